"""Pure analysis functions (numpy in, numbers out), shared by the jobs, the canary analysis and monitoring."""
