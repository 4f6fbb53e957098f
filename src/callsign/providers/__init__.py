"""Number providers: where numbers are searched, bought and released."""
