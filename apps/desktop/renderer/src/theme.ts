export type Theme = 'system' | 'light' | 'dark';

/** The theme choice is a display preference, not a secret: localStorage is fine for it. */
export function storedTheme(): Theme {
  const value = localStorage.getItem('llmsvc-theme');
  return value === 'light' || value === 'dark' ? value : 'system';
}

export function applyTheme(theme: Theme): void {
  if (theme === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', theme);
  localStorage.setItem('llmsvc-theme', theme);
}
