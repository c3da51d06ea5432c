// Archives and clones (issue 15), each beside its floor:
// - export of a box (image + a snapshot + Now, BENCH_ARCHIVE_MIB of data, 1 GiB unless given)
//   beside `tar -c` of the same files (and beside `tar | zstd` for the compressed export);
// - import of that archive beside `tar -x` of it;
// - a linked clone beside one `qemu-img create` of an overlay; a full clone beside
//   `qemu-img convert` of the same chain.
import fs from 'node:fs';
import path from 'node:path';
import { GiB, MiB, requireBuilt, row, sh, tempDir, timeIt } from './lib.mjs';

requireBuilt();
const N = Number(process.env.BENCH_N ?? 3);
const DATA = Number(process.env.BENCH_ARCHIVE_MIB ?? 1024) * MiB;

export async function archiveBenchmarks() {
  const { openCore } = await import('../dist/electron/core/core.js');
  const dir = tempDir('bkarc-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test' });
  try {
    const seed = path.join(dir, 'seed.qcow2');
    sh('qemu-img', ['create', '-q', '-f', 'qcow2', seed, String(Math.max(GiB, 2 * DATA))]);
    // Incompressible-ish data (random) in the image, a pattern in the snapshot and Now.
    sh('sh', ['-c', `head -c ${DATA / 2} /dev/urandom > ${dir}/r.bin && qemu-io -f qcow2 -c "write -s ${dir}/r.bin 0 ${DATA / 2}" ${seed} >/dev/null && rm ${dir}/r.bin`]);
    await core.images.import({ path: seed, name: 'seed' });
    fs.rmSync(seed);
    const box = await core.boxes.create({ name: 'b', image: 'seed' });
    sh('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a ${DATA / 2} ${DATA / 4}`, box.liveDiskPath]);
    await core.snapshots.create({ box: 'b', name: 's' });
    sh('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x6b ${(3 * DATA) / 4} ${DATA / 4}`, box.liveDiskPath]);
    const files = [core.store.getImage(box.imageId).path, core.store.listSnapshots(box.id)[0].diskPath, box.liveDiskPath];
    const rows = [];
    const mib = (DATA / MiB).toFixed(0);
    for (const compression of ['none', 'zstd']) {
      const samples = [];
      const floor = [];
      const imports = [];
      const untar = [];
      for (let i = 0; i < N; i++) {
        const out = path.join(dir, `x${i}-${compression}.boxkeep`);
        const tarOut = path.join(dir, `t${i}.tar`);
        floor.push(await timeIt(() => sh('sh', ['-c', `tar -cf - -P ${files.join(' ')} ${compression === 'zstd' ? '| zstd -q -3 -T0' : ''} > ${tarOut}`])));
        samples.push(await timeIt(() => core.archives.export({ box: 'b', path: out, compression })));
        const x = fs.mkdtempSync(path.join(dir, 'x-'));
        untar.push(await timeIt(() => sh('sh', ['-c', `${compression === 'zstd' ? `zstd -q -dc ${out} |` : `cat ${out} |`} tar -xf - -C ${x}`])));
        fs.rmSync(x, { recursive: true });
        let imported;
        imports.push(await timeIt(async () => { imported = await core.archives.import({ path: out }); }));
        await core.boxes.remove(imported.id);
        await core.images.remove(imported.imageId);
        fs.rmSync(out);
        fs.rmSync(tarOut);
      }
      rows.push(row(`export ${mib} MiB box (${compression}) vs tar${compression === 'zstd' ? ' | zstd' : ''}`, samples, floor, 'within 3x (two reads: hash, then write)'));
      rows.push(row(`import ${mib} MiB box (${compression}) vs tar -x`, imports, untar, 'within 2x (hash + header checks)'));
    }
    const linked = [];
    const create = [];
    const fullClone = [];
    const convert = [];
    for (let i = 0; i < N; i++) {
      const o = path.join(dir, `o${i}.qcow2`);
      create.push(await timeIt(() => sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', files[1], '-F', 'qcow2', o])));
      fs.rmSync(o);
      let c;
      linked.push(await timeIt(async () => { c = await core.clones.clone({ box: 'b', from: 's', name: `l${i}` }); }));
      await core.boxes.remove(c.id);
      convert.push(await timeIt(() => sh('qemu-img', ['convert', '-O', 'qcow2', files[1], o])));
      fs.rmSync(o);
      fullClone.push(await timeIt(async () => { c = await core.clones.clone({ box: 'b', from: 's', full: true, name: `f${i}` }); }));
      await core.boxes.remove(c.id);
    }
    rows.push(row('linked clone vs qemu-img create', linked, create, 'within 5x (checks, seed, row)'));
    rows.push(row(`full clone (${mib} MiB box) vs qemu-img convert`, fullClone, convert, 'within 1.5x'));
    return rows;
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
