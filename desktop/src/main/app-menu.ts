/**
 * The application menu, as data (Electron's menu roles do the work). Developer tools are offered only with
 * the dev server: in a packaged app they would hand anyone at the keyboard the page's access token.
 */
export type MenuRole =
  | 'quit'
  | 'undo'
  | 'redo'
  | 'cut'
  | 'copy'
  | 'paste'
  | 'selectAll'
  | 'reload'
  | 'resetZoom'
  | 'zoomIn'
  | 'zoomOut'
  | 'togglefullscreen'
  | 'toggleDevTools'
  | 'minimize'
  | 'close';

export interface MenuSection {
  label: string;
  roles: MenuRole[];
}

export function appMenu(options: { devTools: boolean }): MenuSection[] {
  return [
    { label: 'File', roles: ['quit'] },
    { label: 'Edit', roles: ['undo', 'redo', 'cut', 'copy', 'paste', 'selectAll'] },
    { label: 'View', roles: ['reload', 'resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen', ...(options.devTools ? (['toggleDevTools'] as const) : [])] },
    { label: 'Window', roles: ['minimize', 'close'] },
  ];
}
