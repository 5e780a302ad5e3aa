; dirty.s -- a guest that keeps writing all over its memory: the hard case of live migration.
;
; Run it:   hv boot guests/dirty.s --mem 1M
;   moving:  hv boot --incoming tcp:127.0.0.1:4444          (terminal 1: the destination)
;            hv boot guests/dirty.s --mem 1M --migrate-at 100000:tcp:127.0.0.1:4444
;
; What it does: sweeps over WINDOW pages starting at 64 KiB, writing one word into each
; page (a running checksum), again and again; after every sweep of all the pages it adds the
; words it wrote back up, and prints a line every 16 sweeps. After ROUNDS lines it powers off
; with status 0.
;
; What it shows:
;   - why pre-copy migration needs rounds: while the source sends memory, this guest dirties
;     pages faster than an idle kernel ever would, so every round finds pages to send again;
;   - auto-converge: when the dirty set stops shrinking, the hypervisor gives the guest less
;     time between the frames it sends (hv boot --stats and the monitor's query-migrate
;     report the throttle); the guest cannot tell, because time here is its own count of
;     instructions;
;   - that the result does not depend on where it ran: the sums it prints come out the same
;     with or without a migration in the middle, on either core.

.include "lib/hw.s"
.entry start

.equ BASE, 0x10000              ; the first page written (above the program and its stack)
.equ WINDOW, 192                ; pages written per sweep (768 KiB: most of a 1 MiB guest)
.equ ROUNDS, 20                 ; lines printed before powering off
.equ PAGE, 4096

start:
    li   r10, 0                 ; r10 = sweeps done
    li   r11, 0                 ; r11 = the running value written into the pages
    li   r12, 0                 ; r12 = lines printed
sweep:
    li   r1, BASE               ; r1 walks over the pages
    li   r2, 0                  ; r2 = pages written in this sweep
page:
    add  r11, r11, r10          ; a value that changes from write to write
    add  r11, r11, r2
    st   r11, [r1]              ; the write that dirties the page
    add  r1, r1, PAGE
    add  r2, r2, 1
    li   r3, WINDOW
    blt  r2, r3, page
    add  r10, r10, 1
    and  r4, r10, 15            ; every 16 sweeps: add the pages up and print
    li   r3, 0
    bne  r4, r3, sweep
    call report
    add  r12, r12, 1
    li   r3, ROUNDS
    blt  r12, r3, sweep
    halt

; report: print "sweep N: sum S" where S is the sum of the words in the pages.
report:
    li   r1, BASE
    li   r2, 0
    li   r5, 0                  ; r5 = the sum
report_next:
    ld   r6, [r1]
    add  r5, r5, r6
    add  r1, r1, PAGE
    add  r2, r2, 1
    li   r3, WINDOW
    blt  r2, r3, report_next
    li   r1, msg_sweep
    call puts
    mov  r1, r10
    call print_uint
    li   r1, msg_sum
    call puts
    mov  r1, r5
    call print_hex
    call newline
    ret

msg_sweep: .asciz "sweep "
msg_sum:   .asciz ": sum "

.include "lib/io.s"
