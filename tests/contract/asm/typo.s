; Deliberate errors: a misspelt mnemonic and a misspelt symbol.
.entry start
start:
    lii  r1, 5
    li   r2, strat
    halt
