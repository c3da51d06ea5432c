// The image manager: every imported image with its kind, its size and the boxes made from it.
// An image no box uses can be removed (after a second click that says what goes); for one in
// use the engine's refusal, which names the boxes, is shown on its row.
import { useState } from 'react';
import type { Box, Image } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { formatBytes, joinWords } from '../format.js';
import { Dialog } from './Dialog.js';

export function ImagesDialog() {
  const actions = useActions();
  const images = useApp((s) => s.images);
  const boxes = useApp((s) => s.boxes);
  return (
    <Dialog
      title="Images"
      className="wide"
      description={<p>Boxes are made from these images: a disk image is the start of a box’s disk, an installer (ISO) boots a box with a blank disk to install a system on it. An image stays unchanged while boxes use it; remove the boxes first to remove it.</p>}
      onClose={actions.closeDialog}
      onSubmit={actions.closeDialog}
      footer={
        <>
          <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'importImage' })}>
            Import image…
          </button>
          <button type="submit" className="button primary">
            Close
          </button>
        </>
      }
    >
      {images.length === 0 ? (
        <p className="muted">No images yet. Import one to create boxes from it.</p>
      ) : (
        <table className="images">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col" className="num">Disk size</th>
              <th scope="col" className="num">On disk</th>
              <th scope="col">Used by</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {images.map((image) => (
              <ImageRow key={image.id} image={image} users={boxes.filter((b) => b.imageId === image.id || b.installerImageId === image.id)} />
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}

function ImageRow({ image, users }: { image: Image; users: Box[] }) {
  const actions = useActions();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    setBusy(true);
    const out = await actions.removeImage(image.id);
    setBusy(false);
    setConfirming(false);
    if (!out.ok) setError(out.error.message);
  };
  // A used image goes straight to the engine, whose answer names the boxes; an unused one asks once.
  const onRemove = () => (users.length > 0 || confirming ? void remove() : setConfirming(true));
  return (
    <>
      <tr data-testid="image-row" data-name={image.name}>
        <th scope="row">{image.name}</th>
        <td data-testid="image-kind">{image.kind === 'installer' ? 'Installer (ISO)' : image.kernelPath ? 'Boots its own kernel' : 'Disk image'}</td>
        <td className="num">{formatBytes(image.virtualSize)}</td>
        <td className="num">{formatBytes(image.sizeOnDisk)}</td>
        <td>{users.length ? joinWords(users.map((b) => b.name)) : <span className="muted">No box</span>}</td>
        <td className="row-actions">
          {confirming && (
            <button type="button" className="button small" onClick={() => setConfirming(false)} disabled={busy}>
              Keep
            </button>
          )}
          <button type="button" className={`button small ${confirming ? 'danger' : ''}`} onClick={onRemove} disabled={busy} aria-label={confirming ? `Remove ${image.name} for good` : `Remove ${image.name}`}>
            {busy ? 'Removing…' : confirming ? 'Remove for good' : 'Remove'}
          </button>
        </td>
      </tr>
      {(confirming || error) && (
        <tr className="image-note">
          <td colSpan={6}>
            {error ? (
              <p className="inline-error" role="alert">
                {error}
              </p>
            ) : (
              <p role="status">Removing “{image.name}” deletes its file ({formatBytes(image.sizeOnDisk)}); no box uses it.</p>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
