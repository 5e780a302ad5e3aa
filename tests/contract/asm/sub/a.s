.include "b.s"
from_a: .asciz "a\n"
