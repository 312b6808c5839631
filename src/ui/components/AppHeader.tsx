import type { ComponentProps } from 'react';
import { BackendNotice } from './BackendNotice';

/** The page's title, what it does in one line, and where the model runs (BackendNotice). */
export function AppHeader(props: ComponentProps<typeof BackendNotice>) {
  return (
    <header className="app-header">
      <div>
        <h1>GPT-2 in the browser</h1>
        <p className="tagline">Type a prompt, move the sliders, and see what GPT-2 could have written: computed on your own machine.</p>
      </div>
      <BackendNotice {...props} />
    </header>
  );
}

/** Shown while files are dragged over the page (useFileDrop). */
export function DropOverlay() {
  return (
    <div className="drop-overlay" data-testid="drop-overlay">
      <p>Drop config.json and model.safetensors (or their folder) to load the model.</p>
    </div>
  );
}
