"""The hypervisor's exit handling, fed made-up exits (as Firecracker tests handle_kvm_exit):
build a VM, hand `Host.handle_exit` a VMExit that the core could have returned, and check
what the guest's virtual CPU, the statistics and the trace show afterwards. No guest
program runs: each case is one exit, with the state around it set by hand.
"""
from __future__ import annotations

import pytest

from asm.assembler import assemble
from hypervisor.host import Host, frames_needed
from hypervisor.trace import Tracer
from hypervisor.trap import inject, tick
from vcpu.exits import VMExit
from vcpu.isa import CR, PTE, Cause, Exit, Status

KM, IE, PG, PKM, PIE = (int(Status.KM), int(Status.IE), int(Status.PG), int(Status.PKM),
                        int(Status.PIE))
ST, EV, EPC, CAU, BAD = (int(CR.status), int(CR.evec), int(CR.epc), int(CR.cause),
                         int(CR.badaddr))
HANDLER = 0x200
PC = 0x100


class ListSink:
    def __init__(self):
        self.events = []

    def write(self, e):
        self.events.append(e)

    def close(self):
        pass


@pytest.fixture
def vm_of(core_kind):
    """vm_of(status=...) -> (host, vm, events): a guest at PC in the given virtual mode,
    its handler at HANDLER, traced into `events`."""
    def make(status=KM, evec=HANDLER, traced=True):
        image = assemble("nop\n", "<exit-test>")
        sink = ListSink()
        host = Host(2 * frames_needed(65536) * 4096,          # room for a second guest
                    trace=Tracer(sink, [image], ["g"]) if traced else None)
        vm = host.add("g", image, mem_size=65536, core=core_kind)
        vm.vcr[ST] = status
        vm.vcr[EV] = evec
        vm.core.pc = PC
        return host, vm, sink.events
    return make


def insn(text: str) -> bytes:
    """One instruction's bytes, as the core would report them in a TRAP exit."""
    (_, data), = assemble(text + "\n", "<insn>").segments
    return data


def trap(cause, epc=PC, badaddr=0, code=b"") -> VMExit:
    return VMExit(Exit.TRAP, cause=int(cause), epc=epc, badaddr=badaddr, insn=code)


# --- emulation: a privileged instruction in virtual kernel mode ------------------------------

def test_mtcr_in_virtual_kernel_mode_is_emulated(vm_of):
    host, vm, events = vm_of(status=KM)
    code = insn("mtcr scratch, r3")
    vm.core.regs[3] = 0xCAFE
    icount = vm.core.icount
    host.handle_exit(vm, trap(Cause.PRIVILEGED, code=code))
    assert vm.vcr[int(CR.scratch)] == 0xCAFE
    assert vm.core.pc == PC + len(code) and vm.core.icount == icount + 1
    assert vm.stats.exits["trap:3"] == 1 and vm.stats.emulated["mtcr"] == 1
    assert not vm.stats.reflected and vm.running
    (e,) = events
    assert e["kind"] == "emulate" and e["pc"] == PC and e["insn"].startswith("mtcr")
    assert "0xcafe" in e["what"]


def test_out_to_the_power_port_stops_the_guest_with_its_status(vm_of):
    host, vm, events = vm_of(status=KM)
    vm.core.regs[1] = 7
    host.handle_exit(vm, trap(Cause.PRIVILEGED, code=insn("out 0xff, r1")))
    assert (vm.stop_kind, vm.status) == ("poweroff", 7) and not vm.running
    assert vm.stats.emulated["out"] == 1


def test_cli_and_sti_change_the_virtual_ie_and_the_real_one_follows(vm_of):
    """The real CPU stays in user mode with paging on; only its IE bit mirrors the virtual
    IE, so that the core stops for an interrupt exactly where the bare CPU would take it."""
    host, vm, _ = vm_of(status=KM | IE)
    real = vm.core.cr[0] & ~IE
    host.handle_exit(vm, trap(Cause.PRIVILEGED, code=insn("cli")))
    assert vm.vcr[ST] == KM and vm.core.cr[0] == real
    host.handle_exit(vm, trap(Cause.PRIVILEGED, epc=vm.core.pc, code=insn("sti")))
    assert vm.vcr[ST] == KM | IE and vm.core.cr[0] == real | IE
    assert not vm.core.cr[0] & KM


def test_iret_returns_to_virtual_user_mode(vm_of):
    host, vm, events = vm_of(status=KM | PIE)      # PKM clear: the trap came from user mode
    vm.vcr[EPC] = 0x300
    host.handle_exit(vm, trap(Cause.PRIVILEGED, code=insn("iret")))
    assert vm.core.pc == 0x300
    assert vm.vcr[ST] & KM == 0 and vm.vcr[ST] & IE
    assert "user mode" in events[0]["what"]


# --- reflection: the guest kernel gets the trap ---------------------------------------------

def test_privileged_instruction_in_virtual_user_mode_is_reflected(vm_of):
    host, vm, events = vm_of(status=IE)             # virtual user mode, interrupts on
    host.handle_exit(vm, trap(Cause.PRIVILEGED, code=insn("cli")))
    assert vm.core.pc == HANDLER
    assert vm.vcr[CAU] == int(Cause.PRIVILEGED) and vm.vcr[EPC] == PC
    st = vm.vcr[ST]
    assert st & KM and not st & IE and not st & PKM and st & PIE
    assert vm.stats.reflected[3] == 1 and not vm.stats.emulated
    assert events[0]["kind"] == "reflect" and f"0x{HANDLER:08x}" in events[0]["what"]


def test_syscall_is_reflected_with_its_number(vm_of):
    host, vm, events = vm_of(status=0)
    code = insn("sys 42")
    host.handle_exit(vm, trap(Cause.SYSCALL, epc=PC + len(code), badaddr=42, code=code))
    assert vm.core.pc == HANDLER
    assert (vm.vcr[CAU], vm.vcr[BAD], vm.vcr[EPC]) == (1, 42, PC + len(code))
    assert events[0]["pc"] == PC                    # the trace names the `sys` itself
    assert vm.stats.exits["trap:1"] == 1


def test_page_fault_outside_guest_memory_is_reflected(vm_of):
    host, vm, _ = vm_of(status=KM)                  # guest paging off: identity, 64 KiB
    host.handle_exit(vm, trap(Cause.PAGE_FAULT_READ, badaddr=0x10_0000))
    assert vm.core.pc == HANDLER
    assert (vm.vcr[CAU], vm.vcr[BAD]) == (int(Cause.PAGE_FAULT_READ), 0x10_0000)
    assert vm.shadow.fills == 0


def guest_paging(vm, rights: int, status: int) -> None:
    """Guest page tables by hand: directory at 0x1000, table at 0x2000, virtual page 0x5000
    -> guest frame 0x7000 with `rights`; then virtual paging on."""
    P = int(PTE.PRESENT)
    vm.dma_write(0x1000, (0x2000 | P | int(PTE.WRITABLE) | int(PTE.USER)).to_bytes(4, "little"))
    vm.dma_write(0x2000 + 5 * 4, (0x7000 | P | rights).to_bytes(4, "little"))
    vm.vcr[int(CR.ptbr)] = 0x1000
    vm.vcr[ST] = status | PG
    vm.shadow.activate()


def test_page_fault_the_guest_allows_fills_the_shadow(vm_of):
    host, vm, events = vm_of()
    guest_paging(vm, rights=0, status=KM)           # present, read-only, kernel-only
    fills = vm.shadow.fills
    host.handle_exit(vm, trap(Cause.PAGE_FAULT_READ, badaddr=0x5123))
    assert vm.core.pc == PC and vm.vcr[CAU] == 0     # re-executed; the guest saw nothing
    assert vm.shadow.fills == fills + 1 and not vm.stats.reflected
    assert events[0]["kind"] == "shadow-fill" and "0x00005000" in events[0]["what"]


@pytest.mark.parametrize("cause,status", [(Cause.PAGE_FAULT_WRITE, KM),   # read-only page
                                          (Cause.PAGE_FAULT_READ, 0)])    # kernel-only page
def test_page_fault_the_guest_forbids_is_reflected(vm_of, cause, status):
    host, vm, events = vm_of()
    guest_paging(vm, rights=0, status=status)
    host.handle_exit(vm, trap(cause, badaddr=0x5123))
    assert vm.core.pc == HANDLER and (vm.vcr[CAU], vm.vcr[BAD]) == (int(cause), 0x5123)
    assert vm.stats.reflected[int(cause)] == 1 and events[0]["kind"] == "reflect"


def test_fault_at_evec_in_kernel_mode_shuts_the_guest_down(vm_of):
    host, vm, events = vm_of(status=KM)
    host.handle_exit(vm, trap(Cause.ILLEGAL, epc=HANDLER))
    assert vm.stop_kind == "shutdown" and not vm.running
    assert "illegal instruction" in vm.reason
    assert events[0]["kind"] == "reflect" and "guest stopped" in events[0]["what"]


# --- interrupts -----------------------------------------------------------------------------

def test_timer_interrupt_waits_for_virtual_ie_then_is_injected(vm_of):
    host, vm, _ = vm_of(status=KM, traced=False)
    vm.vtimer_period, vm.vtimer_next = 100, vm.core.icount
    tick(vm)
    assert vm.vpending & 1 and inject(vm) is None and vm.core.pc == PC   # IE off: waits
    vm.vcr[ST] |= IE
    inject(vm)
    assert vm.core.pc == HANDLER and vm.vcr[CAU] == int(Cause.TIMER) and vm.vcr[EPC] == PC
    assert vm.vpending == 0 and vm.stats.injected[int(Cause.TIMER)] == 1
    assert not vm.vcr[ST] & IE


# --- exits the hypervisor never expects -----------------------------------------------------

def test_a_wfi_exit_means_every_vcpu_waits_forever(vm_of):
    """The core runs the vCPUs' idle slots itself; it returns WFI only when every vCPU
    waits with nothing that could wake it (brief §11's all-waiting stop)."""
    host, vm, _ = vm_of(status=KM)
    other = host.add("other", assemble("nop\n", "<other>"), mem_size=65536, core="py")
    host.handle_exit(vm, VMExit(Exit.WFI))
    assert vm.stop_kind == "wfi" and "never wake" in vm.reason and not vm.running
    assert vm.stats.exits["wfi"] == 1 and other.running


@pytest.mark.parametrize("reason", [Exit.HALT, Exit.IO_OUT, Exit.IO_IN, Exit.SHUTDOWN])
def test_an_exit_the_core_should_never_give_stops_only_that_guest(vm_of, reason):
    host, vm, _ = vm_of(status=KM)
    other = host.add("other", assemble("nop\n", "<other>"), mem_size=65536, core="py")
    host.handle_exit(vm, VMExit(reason, port=0x10, value=1))
    assert vm.stop_kind == "error" and "unexpected exit" in vm.reason
    assert vm.stats.exits[reason.name.lower()] == 1
    assert other.running
