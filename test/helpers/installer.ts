// A tiny installer: an El Torito CD (made with genisoimage) whose boot image "installs" a
// boot sector onto the box's hard disk through the BIOS, like a real installer writes a boot
// loader. Each stage prints a marker on COM1, so the serial log shows what booted:
//   from the CD:   BOXKEEP-CD-BOOT, then BOXKEEP-INSTALLED (or BOXKEEP-INSTALL-FAILED)
//   from the disk: BOXKEEP-DISK-BOOT (only once the CD wrote it there)
// The machine code was assembled with GNU as (--32, .code16, linked at 0x7c00); the source is
// beside each part, so the tests need no assembler.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireTools } from './disk.js';

export const CD_MARKER = 'BOXKEEP-CD-BOOT';
export const INSTALLED_MARKER = 'BOXKEEP-INSTALLED';
export const DISK_MARKER = 'BOXKEEP-DISK-BOOT';

/*
 * Stage 1, run from the CD (loaded at 0x7c00 with the next 3 sectors of the boot image):
 *   cli; xor ax,ax; mov ds/es/ss,ax; mov sp,0x7c00; sti
 *   mov si,msg_cd; call print
 *   mov ax,0x0301; mov cx,1; mov dx,0x80; mov bx,0x7e00; int 0x13   ; write 1 sector (stage 2) to disk 0x80, C/H/S 0/0/1
 *   jc fail; mov si,msg_ok; call print; jmp halt
 *   fail: mov si,msg_fail; call print
 *   halt: cli; hlt; jmp halt
 *   print: lodsb; test al,al; jz ret; mov dx,0x3f8; out dx,al; jmp print
 */
const STAGE1 =
  'fa31c08ed88ec08ed0bc007cfbbe417ce82200b80103b90100ba8000bb007ecd137208be537ce80c00eb06be677ce80400faf4ebfcac84c07406baf803eeebf5c3' +
  Buffer.from(`${CD_MARKER}\r\n\0${INSTALLED_MARKER}\r\n\0BOXKEEP-INSTALL-FAILED\r\n\0`).toString('hex');

/*
 * Stage 2, the "installed" boot sector, run from the disk at 0x7c00:
 *   cli; xor ax,ax; mov ds/ss,ax; mov sp,0x7c00; mov si,msg
 *   print: lodsb; test al,al; jz halt; mov dx,0x3f8; out dx,al; jmp print
 *   halt: hlt; jmp halt
 */
const STAGE2 = 'fa31c08ed88ed0bc007cbe1b7cac84c07406baf803eeebf5f4ebfd' + Buffer.from(`${DISK_MARKER}\r\n\0`).toString('hex');

function sector(hex: string): Buffer {
  const s = Buffer.alloc(512);
  Buffer.from(hex, 'hex').copy(s);
  s.writeUInt16LE(0xaa55, 510);
  return s;
}

/** The 2048-byte no-emulation boot image: stage 1, then stage 2 in the second sector. */
export function bootImage(): Buffer {
  return Buffer.concat([sector(STAGE1), sector(STAGE2), Buffer.alloc(1024)]);
}

/** Makes `<dir>/installer.iso`, an El Torito CD that boots bootImage(); returns its path. */
export function makeInstallerIso(dir: string, name = 'installer.iso'): string {
  requireTools('genisoimage');
  const tree = fs.mkdtempSync(path.join(dir, 'iso-tree-'));
  fs.writeFileSync(path.join(tree, 'boot.img'), bootImage());
  fs.writeFileSync(path.join(tree, 'README.TXT'), 'Boxkeep test installer\n');
  const iso = path.join(dir, name);
  const r = spawnSync('genisoimage', ['-quiet', '-o', iso, '-V', 'BKINSTALL', '-no-emul-boot', '-boot-load-size', '4', '-b', 'boot.img', tree], { encoding: 'utf8' });
  fs.rmSync(tree, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`genisoimage failed: ${r.stderr}`);
  return iso;
}

/** Waits until the serial log, past `fromOffset`, holds `marker`; returns that part of the log. */
export async function waitForSerial(logFile: string, fromOffset: number, marker: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile).subarray(fromOffset).toString('latin1') : '';
    if (text.includes(marker)) return text;
    if (Date.now() > deadline) throw new Error(`${marker} did not appear on the serial console within ${timeoutMs} ms; it shows: ${JSON.stringify(text.slice(-500))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
