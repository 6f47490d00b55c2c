"""Command-line helpers of the project (stack, scaled profile, screenshots, audit); importable as `scripts.<name>`."""
