// The first screen of a new user: what Boxkeep does and the one thing to do next.
import { useActions, useApp } from '../context.js';
import { Icon } from './icons.js';

export function EmptyState() {
  const actions = useActions();
  const images = useApp((s) => s.images);
  return (
    <main className="empty" aria-labelledby="empty-title">
      <h1 id="empty-title">Welcome to Boxkeep</h1>
      <p>
        Boxkeep runs small virtual machines, called <em>boxes</em>, and keeps their history as snapshots, so you can try anything and go back.
      </p>
      {images.length === 0 ? (
        <>
          <p>
            <strong>Start by importing a disk image</strong> (a qcow2 file, such as a cloud image of your favourite distribution). Then create a box from it.
          </p>
          <button type="button" className="button primary large" onClick={() => actions.openDialog({ kind: 'importImage' })}>
            <Icon name="import" /> Import an image
          </button>
        </>
      ) : (
        <>
          <p>
            You have {images.length === 1 ? `the image “${images[0]!.name}”` : `${images.length} images`}. <strong>Create your first box</strong> from it,
            then take a snapshot before you change anything.
          </p>
          <button type="button" className="button primary large" onClick={() => actions.openDialog({ kind: 'newBox' })}>
            <Icon name="plus" /> Create a box
          </button>
        </>
      )}
    </main>
  );
}
