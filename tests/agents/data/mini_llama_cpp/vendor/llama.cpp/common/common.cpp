int common() { return 2; }
