; double_fault.s -- hostile guest: a fault inside the trap handler.
;
; Run it:   hv run guests/hostile/double_fault.s    /     hv boot guests/hostile/double_fault.s
;
; The attack: the kernel divides by zero, and the first instruction of its trap handler
; reads an address outside memory, so handling the fault faults again at the handler's
; own entry. A hypervisor that reflected every fault blindly would bounce between the
; guest's handler and itself forever without the guest ever retiring an instruction, which
; also means an instruction limit would never be reached.
;
; What must happen: the bare machine shuts down ("double fault": a fault raised by the
; instruction at evec) and reports the pc (evec) and the cause (5, a read fault, badaddr
; 0x200000). The hypervisor does the same for this guest only.

.include "../lib/print.s"

.entry boot

boot:
    li   r1, handler
    mtcr evec, r1
    PRINT msg
    li   r1, 1
    li   r2, 0
    div  r1, r1, r2             ; cause 8 -> handler
    halt

handler:
    ld   r4, [r0 + 0x200000]    ; r0 = 0: outside memory, at evec itself
    iret

msg: .asciz "divide by zero; the handler's first load is outside memory\n"
