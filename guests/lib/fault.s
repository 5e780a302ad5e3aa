; guests/lib/fault.s -- a trap handler for programs that provoke faults on purpose.
;
; report_fault: make it the trap vector (`li r1, report_fault` / `mtcr evec, r1`). Each
; trap then prints one line,
;
;       "  fault: cause C badaddr 0xBBBBBBBB"
;
; and resumes at the address in r10: a probe sets r10 to where it goes on, then makes its
; access. It returns with `iret`, to the mode the trap came from (PKM), so a kernel that
; probes its own page tables stays in kernel mode. Every register is preserved (r1 on the
; stack). Needs guests/lib/io.s (puts, print_uint, print_hex, newline), included anywhere.

report_fault:
    push r1
    li   r1, fault_cause_msg
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, fault_badaddr_msg
    call puts
    mfcr r1, badaddr
    call print_hex
    call newline
    pop  r1
    mtcr epc, r10               ; resume at the next step
    iret

fault_cause_msg:   .asciz "  fault: cause "
fault_badaddr_msg: .asciz " badaddr "
