"""Shadow page tables: the tables the real CPU walks while a guest runs.

The guest's own tables map guest-virtual to guest-physical addresses; the guest's frame
list maps guest-physical to host-physical. The shadow tables are the composition, kept in
frames the guest can never address. There are three views, because the real CPU always
runs the guest in user mode and so cannot tell the guest's kernel from its user:

- `phys`:   virtual paging off: guest-physical identity, every guest page, nothing else.
- `kernel`: virtual paging on, virtual kernel mode: every page the guest's tables map.
- `user`:   virtual paging on, virtual user mode: only pages with the guest's U bit.

The kernel and user views start empty and fill on demand: a real page fault exits to the
hypervisor, which walks the guest's tables; if the guest allows the access the entry is
installed and the instruction re-executes, otherwise the fault is reflected to the guest.

Invalidation is *rebuild on flush*: `tlbflush`, a `ptbr` write or a `PG` change empties both
views. That is exactly the guest's TLB contract (it must flush after editing an entry), costs
no write-protection traps while the guest edits its tables, and costs one hidden fault per
page touched after each flush (a context switch in the guest refills its working set).

The shadow is a TLB that only a flush empties. The bare machine's TLB also loses an entry
when another page takes its slot, so a guest that edits a live entry *without* flushing can
see the new mapping earlier on the bare machine than under the hypervisor. No hypervisor
can track that exactly while the guest runs directly on the CPU (TLB hits never exit), so
the machine's contract is the flush: see "TLB" in docs/isa.md.
"""
from __future__ import annotations

from vcpu.isa import CR, PAGE_SIZE, Status, pde_address, pte_address

M32 = 0xFFFF_FFFF
P, W, U = 1, 2, 4
KM, PG, IE = int(Status.KM), int(Status.PG), int(Status.IE)
PTBR = int(CR.ptbr)
ST = int(CR.status)
TABLE_FRAMES = 8      # page-table frames for the kernel and user views together


def frames_per_vcpu(mem_size: int, first: bool) -> int:
    """Pool frames of one vCPU's shadow: two directories and the tables, plus, for the
    first vCPU only, the physical view that all vCPUs of the guest share."""
    return 2 + TABLE_FRAMES + (1 + -(-mem_size // (PAGE_SIZE * 1024)) if first else 0)


class ShadowMMU:
    """The shadow tables of one vCPU (`index`).

    Per vCPU, not per guest: two vCPUs may be in different modes or run different address
    spaces (different `ptbr`), so each needs its own kernel and user views; and the ISA's
    TLBs are per CPU and not coherent (brief §11), so a `tlbflush` on one vCPU empties that
    vCPU's shadow only, exactly the bare machine's contract. The physical view (paging off)
    is the same for every vCPU and is shared (`share` = the first vCPU's ShadowMMU)."""

    def __init__(self, vm, pool, index: int = 0, share: "ShadowMMU | None" = None):
        self.vm = vm
        self.index = index
        self.mem = pool.mem
        nphys_tables = -(-vm.mem_size // (PAGE_SIZE * 1024))
        if share is None:
            self.frames = pool.alloc(3 + nphys_tables + TABLE_FRAMES)
            self.phys_dir, self.kernel_dir, self.user_dir = self.frames[:3]
            self._tables = self.frames[3 + nphys_tables:]
        else:
            self.frames = pool.alloc(2 + TABLE_FRAMES)
            self.phys_dir = share.phys_dir
            self.kernel_dir, self.user_dir = self.frames[:2]
            self._tables = self.frames[2:]
        self._free_tables = list(self._tables)
        self.fills = 0
        self.flushes = 0
        if share is None:
            self._build_phys(self.frames[3:3 + nphys_tables])

    @property
    def vcr(self) -> list:
        return self.vm.vcpus[self.index].vcr

    @property
    def cpu(self):
        """The real CPU this vCPU runs on."""
        return self.vm.core.cpus[self.index]

    def _build_phys(self, tables: list[int]) -> None:
        mem = self.mem
        for i, host in enumerate(self.vm.frames):
            d, t = divmod(i, 1024)
            table = tables[d]
            mem[self.phys_dir + 4 * d:self.phys_dir + 4 * d + 4] = (table | P | W | U).to_bytes(4, "little")
            mem[table + 4 * t:table + 4 * t + 4] = (host | P | W | U).to_bytes(4, "little")

    def entry_rights(self, rights: int) -> int:
        """A shadow entry's rights: the real CPU runs the guest in user mode, so every
        entry needs U (the user view holds only the guest's U pages), W as the guest says."""
        return U | (rights & W)

    def current_dir(self) -> int:
        st = self.vcr[ST]
        if not st & PG:
            return self.phys_dir
        return self.kernel_dir if st & KM else self.user_dir

    def activate(self) -> None:
        """Point the real CPU at the view for the guest's current mode, and let its IE bit
        follow the virtual one (vm.py: interrupts stop the core where the guest takes them)."""
        cpu = self.cpu
        cr = cpu.cr
        d = self.current_dir()
        if cr[PTBR] != d:
            cr[PTBR] = d
            cpu.tlb_flush()
        cr[ST] = PG | (self.vcr[ST] & IE)

    def flush(self) -> None:
        zero = bytes(PAGE_SIZE)
        self.mem[self.kernel_dir:self.kernel_dir + PAGE_SIZE] = zero
        self.mem[self.user_dir:self.user_dir + PAGE_SIZE] = zero
        self._free_tables = list(self._tables)
        self.flushes += 1
        self.cpu.tlb_flush()
        self.activate()

    # --- guest page-table walk -----------------------------------------------------------
    def guest_walk(self, va: int) -> tuple[int, int] | None:
        """(guest frame, rights) from the guest's own tables, or None where the bare machine
        would fault (not present, or a walk outside guest memory)."""
        vm = self.vm
        pde_addr = pde_address(self.vcr[PTBR], va)
        pde = vm.read_phys32(pde_addr)
        if pde is None or not pde & P:
            return None
        pte = vm.read_phys32(pte_address(pde, va))
        if pte is None or not pte & P:
            return None
        return pte & 0xFFFF_F000, pde & pte & (W | U)

    def fill(self, va: int, cause: int) -> bool:
        """Handle a real page fault at `va`: install the shadow entry if the guest's tables
        allow the access (True), or tell the caller to reflect the fault (False)."""
        vm = self.vm
        st = self.vcr[ST]
        if not st & PG:
            return False             # the phys view maps all guest memory: a real fault
        walk = self.guest_walk(va)
        if walk is None:
            return False
        gframe, rights = walk
        if (not st & KM and not rights & U) or (cause == 6 and not rights & W):
            return False
        if gframe >= vm.mem_size:
            return False             # guest-physical address outside the guest's memory
        d = self.current_dir()
        mem = self.mem
        de_addr = d + (va >> 22) * 4
        de = int.from_bytes(mem[de_addr:de_addr + 4], "little")
        if not de & P:
            if not self._free_tables:
                self.flush()         # out of shadow tables: start over, like a full TLB
                d = self.current_dir()
                de_addr = d + (va >> 22) * 4
            table = self._free_tables.pop()
            mem[table:table + PAGE_SIZE] = bytes(PAGE_SIZE)
            mem[de_addr:de_addr + 4] = (table | P | W | U).to_bytes(4, "little")
        else:
            table = de & 0xFFFF_F000
        host = vm.frames[gframe >> 12]
        te = host | P | self.entry_rights(rights)
        ta = table + ((va >> 12) & 0x3FF) * 4
        mem[ta:ta + 4] = te.to_bytes(4, "little")
        self.fills += 1
        # The real TLB may still hold this page with the rights of an older fill.
        self.cpu.tlb_flush()
        return True
