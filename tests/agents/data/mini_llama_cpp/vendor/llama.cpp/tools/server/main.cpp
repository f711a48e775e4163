int llama(); int common();
int main() { return llama() + common() - 3; }
