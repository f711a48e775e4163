int llama() { return 1; }
