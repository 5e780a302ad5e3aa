; test_robust.s -- nothing a user program does stops the kernel or another process.
;
; Each misbehaviour runs in a forked child; the parent checks the child's exit status
; (128 + the trap cause for a fault) and carries on. Then fork and thread bombs meet the
; limits (-4), and an endless loop is preempted.
; Run: hv os guests/os/tests/test_robust.s
.include "user.s"
.include "utap.s"

; CHILD label: fork; the child runs `label`; r2 = its exit status in the parent.
.macro CHILD label
    call fork
    li   r2, 0
    bne  r1, r2, parent\@
    call \label
    li   r1, 0
    call exit
parent\@:
    call wait
.endm

main:
    PLAN 18

    CHILD c_cli
    CHECK_EQ r2, 131, "cli in user mode: 128 + 3 (privileged)"
    CHILD c_halt
    CHECK_EQ r2, 131, "halt in user mode: 131"
    CHILD c_out
    CHECK_EQ r2, 131, "out to the power port in user mode: 131"
    CHILD c_illegal
    CHECK_EQ r2, 132, "an illegal opcode: 128 + 4"
    CHILD c_kread
    CHECK_EQ r2, 133, "reading kernel memory: 128 + 5"
    CHILD c_topwrite
    CHECK_EQ r2, 134, "writing the top page: 128 + 6"
    CHILD c_fetch
    CHECK_EQ r2, 135, "jumping into the kernel: 128 + 7"
    CHILD c_div
    CHECK_EQ r2, 136, "divide by zero: 128 + 8"
    CHILD c_brk
    CHECK_EQ r2, 130, "brk: 128 + 2"
    CHILD c_overflow
    CHECK_EQ r2, 134, "endless recursion hits the stack's guard page: 134"
    CHILD c_deep
    CHECK_EQ r2, 0, "a 20 KiB deep stack is fine (it grows on demand)"
    CHILD c_thread_fault
    CHECK_EQ r2, 136, "a fault in any thread ends the whole process"
    CHILD c_shrunk
    CHECK_EQ r2, 133, "a heap page given back by sbrk(-n) is gone"

    ; --- fork bomb: children sleep, the parent forks until -4 ---
    li   r9, 0
bomb:
    call fork
    li   r2, 0
    beq  r1, r2, bomb_child
    blt  r1, r2, bomb_done
    add  r9, r9, 1
    li   r1, 100
    blt  r9, r1, bomb
bomb_done:
    CHECK_EQ r1, -4, "fork bomb: fork returns -4 at the limit"
    li   r2, 15
    sub  r3, r9, r2
    li   r4, 0
    li   r1, 0
    blt  r3, r4, bomb_few
    li   r1, 1
bomb_few:
    OK   r1, "at least 16 processes could live at once"

    ; --- thread bomb: threads wait on a futex, main creates until -4 ---
    li   r9, 0
tbomb:
    li   r1, t_wait
    li   r2, 0
    call thread_create
    li   r2, 0
    blt  r1, r2, tbomb_done
    add  r9, r9, 1
    li   r2, 200
    blt  r9, r2, tbomb
tbomb_done:
    CHECK_EQ r1, -4, "thread bomb: thread_create returns -4 at the limit"
    li   r2, 63
    sub  r3, r9, r2
    li   r4, 0
    li   r1, 0
    blt  r3, r4, tbomb_few
    li   r1, 1
tbomb_few:
    OK   r1, "at least 64 threads could live at once"

    ; --- an endless loop is preempted: the parent still runs ---
    call fork
    li   r2, 0
    bne  r1, r2, loop_parent
spin:
    jmp  spin
loop_parent:
    mov  r8, r1
    li   r1, 3
    call sleep
    li   r1, 1
    OK   r1, "a child in an endless loop does not stop its parent"

    DONE                        ; pid 1 exits: the machine powers off, spinner and all

; --- the misbehaving children ---
c_cli:
    cli
    ret
c_halt:
    halt
    ret
c_out:
    li   r1, 0
    out  0xff, r1
    ret
c_illegal:
    .byte 0
    ret
c_kread:
    li   r1, 0x100
    ld   r1, [r1]
    ret
c_topwrite:
    li   r1, 0xfffff000
    st   r1, [r1 + 8]
    ret
c_fetch:
    li   r1, 0x100
    jmp  r1
c_div:
    li   r1, 1
    li   r2, 0
    div  r1, r1, r2
    ret
c_brk:
    brk
    ret
c_overflow:
    call c_overflow
    ret
c_deep:                         ; 20 KiB of stack, touched from the top down
    li   r1, 5120
c_deep_loop:
    push r1
    sub  r1, r1, 1
    li   r2, 0
    bne  r1, r2, c_deep_loop
    add  sp, sp, 20480
    ret
c_thread_fault:
    li   r1, t_div
    li   r2, 0
    call thread_create
    li   r1, 1000
    call sleep                  ; the faulting thread ends this one too
    li   r1, 0
    ret
c_shrunk:
    li   r1, 8192
    call sbrk
    mov  r8, r1
    li   r2, 1
    st   r2, [r8 + 4096]        ; map it, use it
    li   r1, -8192
    call sbrk
    ld   r1, [r8 + 4096]        ; read fault (133)
    li   r1, 0
    ret
t_div:
    li   r2, 0
    div  r1, r1, r2
    ret

bomb_child:
    li   r1, 30
    call sleep
    li   r1, 0
    call exit

t_wait:
    li   r1, never
    li   r2, 0
    call futex_wait
    ret

    .align 4
never:  .word 0
