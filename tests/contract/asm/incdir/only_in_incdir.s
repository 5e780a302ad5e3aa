from_inc: .asciz "incdir\n"
