; .include: relative to the including file first, then each -I directory.
.entry start
.include "sub/a.s"              ; sub/a.s includes "b.s": sub/b.s, not incdir/b.s
.include "only_in_incdir.s"     ; found only through -I incdir
.include "blib.s"
start:
    li   r1, from_a
    call puts
    li   r1, from_b
    call puts
    li   r1, from_inc
    call puts
    halt
