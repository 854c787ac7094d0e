/** The renderer's entry: the same build runs at /console in a browser and inside the desktop app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/app.tsx';
import { detectEnvironment } from './app/environment.ts';
import './ui/console.css';

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <App environment={detectEnvironment()} />
  </StrictMode>,
);
