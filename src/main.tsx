import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { startWithServiceWorker } from './offline/register';
import './ui/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

function render(element: HTMLElement): void {
  createRoot(element).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}

// The built app goes through its service worker (src/offline): cross-origin isolation on any
// static host, and offline use. The dev server sends the headers itself and has no sw.js.
if (import.meta.env.PROD) {
  root.textContent = 'Starting…';
  void startWithServiceWorker().then((next) => {
    if (next === 'render') render(root);
  });
} else {
  render(root);
}
