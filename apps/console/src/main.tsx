import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, token, whenUnauthorized } from './api';
import { Login } from './pages/login';
import { ClustersPage } from './pages/clusters';
import { QueuesPage } from './pages/queues';
import { JobsPage } from './pages/jobs';
import { JobPage } from './pages/job';
import type { WhoAmI } from './types';
import { BASE, navigate } from './router';
import 'uplot/dist/uPlot.min.css';
import './style.css';

/** The page the path names: clusters, queues, jobs, or one job. */
type Route =
  { page: 'clusters' } | { page: 'queues' } | { page: 'jobs' } | { page: 'job'; id: string };

function routeOf(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : '';
  const [first, second] = rest.split('/');
  if (first === 'jobs' && second) return { page: 'job', id: decodeURIComponent(second) };
  if (first === 'jobs') return { page: 'jobs' };
  if (first === 'queues') return { page: 'queues' };
  return { page: 'clusters' };
}

function Link({ to, children, active }: { to: string; children: string; active?: boolean }) {
  return (
    <a
      href={`${BASE}${to}`}
      class={active ? 'active' : ''}
      onClick={(e) => {
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

function App() {
  const [route, setRoute] = useState<Route>(routeOf(location.pathname));
  // undefined: still asking the hub who we are; null: the hub wants a (valid) token.
  const [me, setMe] = useState<WhoAmI | null | undefined>(undefined);

  const whoami = () =>
    // Without a token the hub answers 401, unless it runs in development mode: then no login.
    getJson<WhoAmI>('whoami').then(setMe, () => setMe(null));

  useEffect(() => {
    const onPop = () => setRoute(routeOf(location.pathname));
    addEventListener('popstate', onPop);
    whenUnauthorized(() => setMe(null));
    void whoami();
    return () => removeEventListener('popstate', onPop);
  }, []);

  if (me === undefined) return <p class="muted">Connecting to the hub…</p>;
  if (me === null)
    return (
      <Login
        onToken={async (t) => {
          token.set(t);
          try {
            setMe(await getJson<WhoAmI>('whoami'));
            return true;
          } catch {
            return false;
          }
        }}
      />
    );
  return (
    <>
      <header>
        <strong>Muster</strong>
        <nav>
          <Link to="clusters" active={route.page === 'clusters'}>
            Clusters
          </Link>
          <Link to="queues" active={route.page === 'queues'}>
            Queues
          </Link>
          <Link to="jobs" active={route.page === 'jobs' || route.page === 'job'}>
            Jobs
          </Link>
        </nav>
        <span class="who" data-testid="who">
          {me.name} · {me.role}
          {me.queues ? ` · ${me.queues.join(', ')}` : ''}
        </span>
        {token.get() && (
          <button
            class="link"
            onClick={() => {
              token.clear();
              setMe(null);
            }}
          >
            Sign out
          </button>
        )}
      </header>
      <main>
        {route.page === 'clusters' && <ClustersPage />}
        {route.page === 'queues' && <QueuesPage />}
        {route.page === 'jobs' && <JobsPage />}
        {route.page === 'job' && <JobPage id={route.id} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
