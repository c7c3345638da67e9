"""Lambda entry points, one module per function: `ondemand.handlers.<module>.handler`."""
