"""Development tools (mutation testing); run from the repository root, not installed."""
