from_b: .asciz "incdir/b (wrong: the including file's directory comes first)\n"
