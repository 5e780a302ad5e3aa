from_b: .asciz "sub/b\n"
