; privileged.s -- hostile guest: a user program tries every privileged instruction.
;
; Run it:   hv run guests/hostile/privileged.s          (bare machine)
;           hv boot guests/hostile/privileged.s         (under the hypervisor)
;
; The attack: the kernel drops to user mode with `iret`, and its user program then tries,
; one after the other, each instruction that only a kernel may run: halt, wfi, in, out
; (to the console and to the power port), cli, sti, iret, mfcr, mtcr (evec and status,
; trying to make itself the kernel) and tlbflush. If any of them worked, user code could
; stop the machine, talk to devices, read or change the machine's state or take over the
; trap vector.
;
; What must happen: every one of them traps with cause 3 (privileged instruction), epc
; pointing at the instruction itself, and changes nothing: no console byte, no power-off,
; the registers and evec as they were. The kernel counts the traps and prints them.
;
; Under the hypervisor this is a double test. The guest *kernel* already runs in real user
; mode, so its own mtcr/iret trap to the hypervisor and are emulated; the guest's *user*
; program is in virtual user mode, so its privileged instructions must be reflected to the
; guest kernel as cause 3, exactly as the bare CPU would deliver them. The output is the
; same on the bare machine and under the hypervisor, on both cores.

.equ PRIVILEGED, 3
.equ SYSCALL, 1

.entry boot

boot:
    li   r1, handler
    mtcr evec, r1
    li   r13, 0                 ; the number of privileged-instruction traps seen
    li   r1, user
    mtcr epc, r1
    li   r1, 1                  ; KM = 1 now, PKM = 0: the iret below lands in user mode
    mtcr status, r1
    iret

; --- the user program: each attempt sets r10 to where the kernel should resume it ---------
user:
    li   r10, u1
a_halt:
    halt                        ; would power the machine off
u1: li   r10, u2
a_wfi:
    wfi                         ; would stop the machine (no timer, nothing pending)
u2: li   r10, u3
    li   r2, 1234
a_in:
    in   r2, 0x11               ; would read the console
u3: li   r3, saved_in
    st   r2, [r3]               ; must still be 1234
    li   r10, u4
    li   r2, '!'
a_out:
    out  0x10, r2               ; would print a '!'
u4: li   r10, u5
    li   r2, 7
a_power:
    out  0xff, r2               ; would power off with status 7
u5: li   r10, u6
a_cli:
    cli
u6: li   r10, u7
a_sti:
    sti
u7: li   r10, u8
a_iret:
    iret                        ; would jump to epc in kernel mode (PKM was 1 in the trap)
u8: li   r10, u9
    li   r2, 4321
a_mfcr:
    mfcr r2, status             ; would reveal the mode
u9: li   r3, saved_mfcr
    st   r2, [r3]               ; must still be 4321
    li   r10, u10
    li   r2, 0
a_mtcr_evec:
    mtcr evec, r2               ; would steal the trap vector
u10: li  r10, u11
    li   r2, 0x1f               ; KM, IE, PG, PKM, PIE all set
a_mtcr_status:
    mtcr status, r2             ; would make the user program the kernel
u11: li  r10, u12
a_tlbflush:
    tlbflush
u12:
    sys  0                      ; done: hand back to the kernel

; --- the kernel's trap handler -------------------------------------------------------------
; It shares the user's stack (there is no paging here), and saves what it uses, so the
; user program can check that its registers came through untouched.
handler:
    push r1
    push r2
    push r3
    mfcr r1, cause
    li   r2, SYSCALL
    beq  r1, r2, finished
    li   r2, PRIVILEGED
    bne  r1, r2, unexpected
    add  r13, r13, 1
    li   r1, s_trap
    call puts
    mfcr r2, epc                ; the address of the instruction that trapped...
    li   r3, attempts           ; ...looked up in the table of attempts
find:
    ld   r1, [r3]
    beq  r1, r2, found
    add  r3, r3, 8
    li   r1, 0
    bne  r1, r2, find           ; (every epc is in the table; 0 never is)
found:
    ld   r1, [r3 + 4]           ; the instruction's name
    call puts
    li   r1, s_at
    call puts
    mov  r1, r2
    call print_hex
    li   r1, s_status_is
    call puts
    mfcr r1, status             ; KM = 1, PKM = 0: the trap came from user mode
    call print_hex
    call newline
    mtcr epc, r10               ; resume the user program after the attempt
    pop  r3
    pop  r2
    pop  r1
    iret

; epc -> name of the attempt
attempts:
    .word a_halt, n_halt, a_wfi, n_wfi, a_in, n_in, a_out, n_out, a_power, n_power
    .word a_cli, n_cli, a_sti, n_sti, a_iret, n_iret, a_mfcr, n_mfcr
    .word a_mtcr_evec, n_mtcr_evec, a_mtcr_status, n_mtcr_status, a_tlbflush, n_tlbflush
n_halt:     .asciz "halt"
n_wfi:      .asciz "wfi"
n_in:       .asciz "in r2, 0x11"
n_out:      .asciz "out 0x10, r2"
n_power:    .asciz "out 0xff, r2"
n_cli:      .asciz "cli"
n_sti:      .asciz "sti"
n_iret:     .asciz "iret"
n_mfcr:     .asciz "mfcr r2, status"
n_mtcr_evec: .asciz "mtcr evec, r2"
n_mtcr_status: .asciz "mtcr status, r2"
n_tlbflush: .asciz "tlbflush"
s_at:       .asciz " at "
s_status_is: .asciz ", status "

unexpected:
    li   r1, s_unexpected
    call puts
    mfcr r1, cause
    call print_uint
    call newline
    li   r1, 1
    out  0xff, r1

finished:
    li   r1, s_count
    call puts
    mov  r1, r13
    call print_uint
    call newline
    li   r1, s_in
    call puts
    li   r1, saved_in
    ld   r1, [r1]
    call print_uint
    call newline
    li   r1, s_mfcr
    call puts
    li   r1, saved_mfcr
    ld   r1, [r1]
    call print_uint
    call newline
    li   r1, s_evec
    call puts
    mfcr r1, evec
    li   r2, handler
    li   r3, s_yes
    beq  r1, r2, ev_ok
    li   r3, s_no
ev_ok:
    mov  r1, r3
    call puts
    li   r1, s_status           ; status in the kernel after `sys` from user mode: KM only
    call puts
    mfcr r1, status
    call print_hex
    call newline
    halt

saved_in:   .word 0
saved_mfcr: .word 0
s_trap:     .asciz "trap 3 (privileged): "
s_unexpected: .asciz "unexpected cause "
s_count:    .asciz "privileged traps: "
s_in:       .asciz "r2 after user in: "
s_mfcr:     .asciz "r2 after user mfcr: "
s_evec:     .asciz "evec still the kernel's: "
s_yes:      .asciz "yes\n"
s_no:       .asciz "NO\n"
s_status:   .asciz "status after sys: "

.include "../lib/io.s"
