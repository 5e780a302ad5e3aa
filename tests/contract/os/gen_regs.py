# generates regs.s: register preservation across system calls and user.s calls
calls = [  # (label, N, r1, r2, check_r2)
    ("getpid", 7, "0", "0x12121212", True),
    ("gettid", 13, "0", "0x12121212", True),
    ("yield", 11, "0", "0x12121212", True),
    ("clock", 14, "0", "0x12121212", True),
    ("sbrk", 15, "0", "0x12121212", True),
    ("sleep", 12, "1", "0x12121212", True),
    ("write", 2, "dot", "1", True),
    ("read", 3, "rbuf", "16", True),
    ("exec", 5, "nosuch", "0x12121212", True),
    ("join", 10, "999", "0x12121212", True),
    ("futex_wait", 16, "fword", "0x12121212", True),
    ("futex_wake", 17, "fword", "4", True),
    ("wait", 6, "-1", "0x12121212", False),
    ("badcall", 99, "0", "0x12121212", True),
]
funcs = [  # user.s functions: r8..r14 and sp preserved
    ("puts", "dot"), ("print_dec", "4294967295"), ("print_hex", "0xdeadbeef"),
    ("mutex_lock", "mtx"), ("mutex_unlock", "mtx"), ("uthread_yield", "0"),
    ("getpid", "0"), ("write", "dot"),
]
o = ['; Register preservation (brief §9): a system call preserves every register but r1',
     '; (and r2 for wait); a user.s function preserves r8-r14 and sp.',
     '.include "user.s"', '.include "ct.s"', '', 'main:']
for lab, n, a1, a2, ck in calls:
    o.append(f'    ; sys {n} ({lab})')
    o.append('    li   r0, 0x10101010')
    for r in range(3, 15):
        o.append(f'    li   r{r}, 0x{r:02x}{r:02x}{r:02x}{r:02x}')
    o += ['    li   r1, spsave', '    st   sp, [r1]', f'    li   r1, {a1}', f'    li   r2, {a2}',
          f'    sys  {n}', '    li   r1, 0x10101010', f'    bne  r0, r1, bad_{lab}']
    for r in range(3, 15):
        o += [f'    li   r1, 0x{r:02x}{r:02x}{r:02x}{r:02x}', f'    bne  r{r}, r1, bad_{lab}']
    if ck:
        o += [f'    li   r1, {a2}', f'    bne  r2, r1, bad_{lab}']
    o += ['    li   r1, spsave', '    ld   r1, [r1]', f'    bne  sp, r1, bad_{lab}',
          f'    li   r1, ok_{lab}', '    call say', f'    jmp  next_{lab}',
          f'bad_{lab}:', f'    li   r1, no_{lab}', '    call say', f'next_{lab}:']
for lab, a1 in funcs:
    o.append(f'    ; {lab}()')
    for r in range(8, 15):
        o.append(f'    li   r{r}, 0x{r:02x}{r:02x}{r:02x}{r:02x}')
    o += ['    li   r1, spsave', '    st   sp, [r1]', f'    li   r1, {a1}', f'    call {lab}']
    for r in range(8, 15):
        o += [f'    li   r1, 0x{r:02x}{r:02x}{r:02x}{r:02x}', f'    bne  r{r}, r1, fbad_{lab}']
    o += ['    li   r1, spsave', '    ld   r1, [r1]', f'    bne  sp, r1, fbad_{lab}',
          f'    li   r1, fok_{lab}', '    call say', f'    jmp  fnext_{lab}',
          f'fbad_{lab}:', f'    li   r1, fno_{lab}', '    call say', f'fnext_{lab}:']
o += ['    li   r1, 0', '    ret', '']
for lab, *_ in calls:
    o += [f'ok_{lab}: .asciz " sys {lab} preserves"', f'no_{lab}: .asciz " sys {lab} CLOBBERS"']
for lab, _ in funcs:
    o += [f'fok_{lab}: .asciz " {lab} preserves"', f'fno_{lab}: .asciz " {lab} CLOBBERS"']
o += ['dot:    .asciz "."', 'nosuch: .asciz "nosuch"', 'fword:  .word 0', 'mtx:    .word 0',
      'spsave: .word 0', 'rbuf:   .space 16']
open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'regs.s'), 'w').write('\n'.join(o) + '\n')
