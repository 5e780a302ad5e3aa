; timer.s -- hostile guest: timer periods 0, 1 and 2^32 - 1.
;
; Run it:   hv run guests/hostile/timer.s    /     hv boot guests/hostile/timer.s
;
; The attack: the timer period is a number the guest writes to port 0x20. Period 0 means
; "off" and must not mean "every instruction" or divide by zero somewhere; period 1 asks for
; an interrupt after every single instruction, which under the hypervisor means an
; injected interrupt, a trip through the host, after every guest instruction (a guest can
; try to make the host spend its time on it instead of its neighbours); 0xffffffff must not
; wrap into a small period.
;
; What must happen, exactly as on the bare machine (docs/isa.md, Interrupts and the timer):
;   - period 0: no interrupt at all;
;   - period 1 with interrupts on: the interrupt is due again as soon as the handler's iret
;     retires, so the main loop cannot run a single instruction until the handler turns
;     the timer off (after 100 interrupts; turning it off does not cancel the one that
;     became pending meanwhile, so 101 are taken and then the loop runs once);
;   - period 1 with interrupts off: one interrupt stays pending, however long we wait;
;     `wfi` sees it and goes on; `sti` then takes exactly one;
;   - period 1000 and `wfi`: the idle time counts, one interrupt wakes us;
;   - period 0xffffffff: nothing within the next thousand instructions.
; The counts printed are the same bare and under the hypervisor: an emulated or injected
; event counts as one guest instruction, never more or less. The guest only slows itself
; down; the scheduler still gives its neighbours their slices.

.equ TIMER, 16

.entry boot

boot:
    li   r1, on_trap
    mtcr evec, r1
    li   r12, 0                 ; timer interrupts taken
    li   r9, 0                  ; the handler turns the timer off when r12 reaches r9 (0: never)

    ; --- period 0 ----------------------------------------------------------------------------
    li   r1, 0
    out  0x20, r1
    sti
    li   r2, 0
    li   r3, 100
p0: add  r2, r2, 1
    blt  r2, r3, p0
    cli
    li   r1, s_p0
    call report

    ; --- period 1, interrupts on -------------------------------------------------------------
    li   r9, 100
    li   r11, 0                 ; main-loop iterations
    li   r1, 1
    out  0x20, r1
    sti
p1: add  r11, r11, 1            ; not one of these runs until the timer is off
    blt  r12, r9, p1
    cli
    li   r9, 0
    li   r1, s_p1
    call report
    li   r1, s_p1_main
    call puts
    mov  r1, r11
    call print_uint
    call newline

    ; --- period 1, interrupts off ------------------------------------------------------------
    li   r12, 0
    li   r1, 1
    out  0x20, r1
    li   r2, 0
    li   r3, 200
p2: add  r2, r2, 1
    blt  r2, r3, p2
    wfi                         ; an interrupt is pending: goes on at once
    li   r1, 0
    out  0x20, r1               ; off: the one pending interrupt stays pending
    sti                         ; taken here, once
    nop
    cli
    li   r1, s_p2
    call report

    ; --- period 1000, wfi ----------------------------------------------------------------------
    li   r12, 0
    li   r1, 1000
    out  0x20, r1
    sti
    wfi
    cli
    li   r1, 0
    out  0x20, r1
    li   r1, s_p3
    call report

    ; --- period 0xffffffff -------------------------------------------------------------------
    li   r12, 0
    li   r1, 0xffffffff
    out  0x20, r1
    sti
    li   r2, 0
    li   r3, 300
p4: add  r2, r2, 1
    blt  r2, r3, p4
    cli
    li   r1, 0
    out  0x20, r1
    li   r1, s_p4
    call report
    halt

report:
    call puts
    mov  r1, r12
    call print_uint
    call newline
    ret

on_trap:
    push r1
    mfcr r1, cause
    push r2
    li   r2, TIMER
    bne  r1, r2, unexpected
    pop  r2
    add  r12, r12, 1
    li   r1, 0
    beq  r9, r1, keep
    blt  r12, r9, keep
    out  0x20, r1               ; enough: timer off (r1 = 0)
keep:
    pop  r1
    iret

unexpected:
    li   r1, s_unexpected
    call puts
    mfcr r1, cause
    call print_uint
    call newline
    li   r1, 1
    out  0xff, r1

s_p0:       .asciz "period 0, 100 iterations: interrupts "
s_p1:       .asciz "period 1, interrupts on: interrupts "
s_p1_main:  .asciz "  main-loop iterations while it was on: "
s_p2:       .asciz "period 1, interrupts off, 200 iterations and wfi: interrupts "
s_p3:       .asciz "period 1000, wfi: interrupts "
s_p4:       .asciz "period 0xffffffff, 300 iterations: interrupts "
s_unexpected: .asciz "unexpected cause "

.include "../lib/io.s"
