import { useEffect, useState } from 'preact/hooks';
import { loadSession, onSignedOut, signOut, type SessionState } from './api';
import { SignIn } from './SignIn';
import { Overview } from './pages/Overview';
import { Keys } from './pages/Keys';
import { Models } from './pages/Models';
import { Batches } from './pages/Batches';
import { VectorStores } from './pages/VectorStores';
import { Playground } from './pages/Playground';
import { Requests } from './pages/Requests';
import { Settings } from './pages/Settings';
import { applyTheme, storedTheme } from './theme';

const pages = [
  { path: 'overview', title: 'Overview', Page: Overview },
  { path: 'keys', title: 'Keys', Page: Keys },
  { path: 'models', title: 'Models', Page: Models },
  { path: 'batches', title: 'Batches', Page: Batches },
  { path: 'vector-stores', title: 'Vector stores', Page: VectorStores },
  { path: 'playground', title: 'Playground', Page: Playground },
  { path: 'requests', title: 'Requests', Page: Requests },
  { path: 'settings', title: 'Settings', Page: Settings },
] as const;

function currentPath(): string {
  const path = location.hash.replace(/^#\/?/, '');
  return pages.some((page) => page.path === path) ? path : 'overview';
}

export function App() {
  const [session, setSession] = useState<SessionState | null>(null);
  const [path, setPath] = useState(currentPath());
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    applyTheme(storedTheme());
    const onHash = () => setPath(currentPath());
    addEventListener('hashchange', onHash);
    const stop = onSignedOut(() => setSession({ signed_in: false, csrf_token: null }));
    (async () => {
      let state = await loadSession();
      // In the desktop app the main process signs the window in; the key never reaches this page.
      if (!state.signed_in && window.llmsvcDesktop && (await window.llmsvcDesktop.signIn())) state = await loadSession();
      setSession(state);
    })().catch((error: Error) => setProblem(`Cannot reach the server: ${error.message}`));
    return () => {
      removeEventListener('hashchange', onHash);
      stop();
    };
  }, []);

  useEffect(() => {
    const page = pages.find((candidate) => candidate.path === path)!;
    document.title = `${page.title} · llmsvc`;
  }, [path]);

  if (problem) return <main class="signin"><p role="alert" class="error">{problem}</p></main>;
  if (!session) return <main class="signin" aria-busy="true"><p>Loading…</p></main>;
  if (!session.signed_in) return <SignIn onSignedIn={setSession} />;

  const page = pages.find((candidate) => candidate.path === path)!;
  const Page = page.Page;
  return (
    <div class="shell">
      <a class="skip" href="#content">Skip to content</a>
      <nav aria-label="Console">
        <div class="brand">llmsvc</div>
        <ul>
          {pages.map((entry) => (
            <li key={entry.path}>
              <a href={`#/${entry.path}`} aria-current={entry.path === path ? 'page' : undefined}>{entry.title}</a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="content" tabIndex={-1}>
        <h1>{page.title}</h1>
        <Page
          onSignOut={async () => {
            await signOut();
            setSession({ signed_in: false, csrf_token: null });
          }}
        />
      </main>
    </div>
  );
}
