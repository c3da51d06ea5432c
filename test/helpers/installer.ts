// A tiny installer: an El Torito CD (made with genisoimage) whose boot image "installs" a
// boot sector onto the box's hard disk through the BIOS, like a real installer writes a boot
// loader. Each stage prints a marker on COM1, so the serial log shows what booted:
//   from the CD:   BOXKEEP-CD-BOOT, then BOXKEEP-INSTALLED (or BOXKEEP-INSTALL-FAILED)
//   from the disk: BOXKEEP-DISK-BOOT (only once the CD wrote it there); it also writes a line
//                  on the VGA text screen and echoes each key it reads to COM1 and the screen
// Stage 1 was assembled with GNU as (--32, .code16, linked at 0x7c00), stage 2 by hand; the
// source is beside each part, so the tests need no assembler.
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

/** What stage 2 writes into VGA text memory, bright white on black, at SCREEN_ROW (0-based) after clearing the screen. */
export const SCREEN_TEXT = 'BOXKEEP SCREEN';
export const SCREEN_ROW = 12;
/** The row where stage 2 echoes the keys it reads. */
export const KEYS_ROW = 14;

/*
 * Stage 2, the "installed" boot sector, run from the disk at 0x7c00. It prints the marker on
 * COM1, clears the text screen, writes SCREEN_TEXT on row 12, then forever reads a key with the
 * BIOS (int 0x16) and echoes it to COM1 and to the screen from row 14 on. Hand-assembled:
 *   00 fa          cli
 *   01 31c0        xor ax,ax
 *   03 8ed8        mov ds,ax
 *   05 8ed0        mov ss,ax
 *   07 bc007c      mov sp,0x7c00
 *   0a fb          sti                      ; the BIOS keyboard needs its interrupt
 *   0b be4d7c      mov si,msg_serial (0x7c4d)
 *   0e e83000      call sprint (0x41)
 *   11 b800b8      mov ax,0xb800
 *   14 8ec0        mov es,ax
 *   16 31ff        xor di,di
 *   18 b9d007      mov cx,2000              ; 80x25 cells
 *   1b b82007      mov ax,0x0720            ; space, grey on black
 *   1e fc          cld
 *   1f f3ab        rep stosw
 *   21 bf8007      mov di,1920              ; row 12 (160 bytes a row)
 *   24 be617c      mov si,msg_screen (0x7c61)
 *   27 b40f        mov ah,0x0f              ; bright white on black
 *   29 ac          scr: lodsb
 *   2a 84c0        test al,al
 *   2c 7403        jz keys_init (0x31)
 *   2e ab          stosw
 *   2f ebf8        jmp scr
 *   31 bfc008      keys_init: mov di,2240   ; row 14
 *   34 30e4        keys: xor ah,ah
 *   36 cd16        int 0x16                 ; wait for a key: al = its character
 *   38 baf803      mov dx,0x3f8
 *   3b ee          out dx,al
 *   3c b40f        mov ah,0x0f
 *   3e ab          stosw
 *   3f ebf3        jmp keys
 *   41 ac          sprint: lodsb
 *   42 84c0        test al,al
 *   44 7406        jz done (0x4c)
 *   46 baf803      mov dx,0x3f8
 *   49 ee          out dx,al
 *   4a ebf5        jmp sprint
 *   4c c3          done: ret
 *   4d             msg_serial: DISK_MARKER "\r\n" 0   (20 bytes)
 *   61             msg_screen: SCREEN_TEXT 0
 */
const STAGE2 =
  'fa31c08ed88ed0bc007cfbbe4d7ce83000b800b88ec031ffb9d007b82007fcf3abbf8007be617cb40fac84c07403abebf8bfc00830e4cd16baf803eeb40fabebf3ac84c07406baf803eeebf5c3' +
  Buffer.from(`${DISK_MARKER}\r\n\0${SCREEN_TEXT}\0`).toString('hex');

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

/** A raw disk (1 MiB) that boots stage 2 straight away: a box with a screen and a keyboard, no installer needed. */
export function makeScreenDisk(dir: string, name = 'screen.raw'): string {
  const file = path.join(dir, name);
  const disk = Buffer.alloc(1024 * 1024);
  sector(STAGE2).copy(disk);
  fs.writeFileSync(file, disk);
  return file;
}

/** The boot sector of screen-large.test.ts (assembly there): a 1024×768 VBE screen of xorshift noise, then "ND" on COM1. */
const NOISE = 'fa31c08ed88ed0bc007cfbb8024fbb1801cd10baf803b04eeebde1ac31d252b8054f31dbcd105ab800a08ec031ffb9008089e8c1e00731c589e8c1e80931c589e8c1e00831c589e8abe2e64283fa3072cdbaf803b044eef4ebfd';
export const NOISE_DONE = 'ND';

/** A raw disk (1 MiB) booting the noise sector: a screen whose PNG is megabytes (noise does not compress). */
export function makeNoiseDisk(dir: string, name = 'noise.raw'): string {
  const file = path.join(dir, name);
  const disk = Buffer.alloc(1024 * 1024);
  Buffer.from(NOISE, 'hex').copy(disk);
  disk.writeUInt16LE(0xaa55, 510);
  fs.writeFileSync(file, disk);
  return file;
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
