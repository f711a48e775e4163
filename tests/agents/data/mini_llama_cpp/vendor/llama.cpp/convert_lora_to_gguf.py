# converter
