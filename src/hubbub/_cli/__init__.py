"""Parts of the `hubbub` command (`hubbub.cli`): shared options, command groups of their own."""
