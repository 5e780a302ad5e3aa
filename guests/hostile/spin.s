; spin.s -- hostile guest: an infinite loop with interrupts off.
;
; Run it:   hv boot guests/hostile/spin.s guests/hello.s --max-steps 100000
;
; The attack: the kernel sets a timer, turns interrupts off and spins forever. On a real
; machine with a single CPU nothing could take the CPU back from it: with IE = 0 not even
; its own timer interrupt can. It hopes the hypervisor relies on the guest's timer
; interrupts (or on the guest yielding) to switch guests.
;
; What must happen: the hypervisor does not need the guest's cooperation. It gives the
; guest a slice of instructions on the real core and takes the CPU back when the slice is
; spent, whatever the guest's virtual IE, so the other guests run as if it were not
; there. The virtual timer interrupt stays pending, never delivered, and the guest is
; stopped by the instruction limit (--max-steps), bare and under the hypervisor alike.

.include "../lib/print.s"

.entry boot

boot:
    PRINT msg
    li   r1, 10
    out  0x20, r1               ; a timer every 10 instructions...
    cli                         ; ...that will never be taken
forever:
    jmp  forever

msg: .asciz "spinning with interrupts off\n"
