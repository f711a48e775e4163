# hf converter
