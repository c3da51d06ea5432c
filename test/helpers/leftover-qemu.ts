// The tests' way to kill a QEMU a test left running (also used by bench/, from dist/).
export { killLeftoverQemu, killQemuUnder } from '../../electron/core/vm/leftover-qemu.js';
