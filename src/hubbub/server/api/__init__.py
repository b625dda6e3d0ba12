"""HTTP endpoints, one module per resource. Each handler: authenticate, parse, call the rules, render."""
