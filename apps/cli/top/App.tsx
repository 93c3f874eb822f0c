import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AdminAuthError, type AdminClient, type JobInfo, type KeyInfo, type RequestRow, type StatsSnapshot } from './adminClient.js';
import { editForm, formValues, limitValue, type FormState } from './form.js';
import { uptime } from './format.js';
import { History } from './history.js';
import { StatsFeed, type FeedState } from './statsFeed.js';
import { ThemeContext, type Theme } from './theme.js';
import { ConfirmDialog, FormDialog, SecretDialog } from './views/Dialogs.js';
import { Help } from './views/Help.js';
import { Jobs } from './views/Jobs.js';
import { Keys } from './views/Keys.js';
import { Models } from './views/Models.js';
import { Overview } from './views/Overview.js';
import { Requests } from './views/Requests.js';

export const viewNames = ['Overview', 'Keys', 'Models', 'Jobs', 'Requests'] as const;
export type ViewName = (typeof viewNames)[number];

type Dialog =
  | { kind: 'help' }
  | { kind: 'form'; form: FormState; submit: (values: Record<string, string>) => Promise<void> }
  | { kind: 'confirm'; question: string; action: () => Promise<void> }
  | { kind: 'secret'; title: string; secret: string };

export interface AppProps {
  client: AdminClient;
  theme: Theme;
  /** Called once when the UI ends: 0 on quit, 1 with a sentence when the key was refused. */
  onExit(code: number, message?: string): void;
}

const statusFilters = [undefined, '2xx', '4xx', '5xx'] as const;

/** Polls `load` every `everyMs` while `active`; returns the last value and a refresh function. */
function usePoll<T>(load: () => Promise<T>, everyMs: number, active: boolean, onError: (error: unknown) => void): [T | undefined, () => void] {
  const [value, setValue] = useState<T>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    const run = () =>
      loadRef.current().then(
        (result) => !stopped && setValue(result),
        (error: unknown) => !stopped && onError(error),
      );
    void run();
    const timer = setInterval(run, everyMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [active, everyMs, tick]);
  return [value, () => setTick((n) => n + 1)];
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `llmsvc top`: the live views over the admin API. Views only draw; this component holds the
 *  state and turns keystrokes into admin API calls. */
export function App({ client, theme, onExit }: AppProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [view, setView] = useState<ViewName>('Overview');
  // The view and the selections as of the last keystroke (see dialogRef).
  const viewRef = useRef<ViewName>('Overview');
  const [selection, setSelection] = useState<Record<ViewName, number>>({ Overview: 0, Keys: 0, Models: 0, Jobs: 0, Requests: 0 });
  const selectionRef = useRef(selection);
  const [snapshot, setSnapshot] = useState<StatsSnapshot>();
  const [feed, setFeed] = useState<{ state: FeedState; detail?: string }>({ state: 'connecting' });
  const [dialog, setDialog] = useState<Dialog>();
  // Keys can arrive faster than React re-renders (a paste, keys sent together): the input
  // handler reads the dialog from this ref, which changes at once, not from the last render.
  const dialogRef = useRef<Dialog>(undefined);
  const showDialog = useCallback((next: Dialog | undefined) => {
    dialogRef.current = next;
    setDialog(next);
  }, []);
  const [message, setMessage] = useState<{ text: string; bad?: boolean }>();
  const [busyModels, setBusyModels] = useState<ReadonlySet<string>>(new Set());
  const [filters, setFilters] = useState<{ key_id?: string; status?: string }>({});
  const history = useMemo(() => new History(), []);
  const exited = useRef(false);

  const quit = useCallback(
    (code: number, text?: string) => {
      if (exited.current) return;
      exited.current = true;
      onExit(code, text);
      exit();
    },
    [exit, onExit],
  );

  const report = useCallback(
    (error: unknown) => {
      if (error instanceof AdminAuthError) return quit(1, error.message);
      setMessage({ text: (error as Error).message, bad: true });
    },
    [quit],
  );

  // Redraw on resize with the new width (Ink redraws; the layout reads the size from here).
  useEffect(() => {
    const onResize = () => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);

  useEffect(() => {
    const statsFeed = new StatsFeed(client, {
      snapshot: (next) => {
        history.add(next);
        setSnapshot(next);
      },
      state: (state, detail) => setFeed({ state, detail }),
      authFailed: (error) => quit(1, error.message),
    });
    statsFeed.start();
    return () => statsFeed.stop();
  }, [client, history, quit]);

  const live = feed.state === 'live';
  const [keys, refreshKeys] = usePoll<KeyInfo[]>(() => client.keys(), 2000, view === 'Keys' && live, report);
  const [usage] = usePoll(() => client.usageToday(utcDay(Date.now())), 5000, view === 'Keys' && live, report);
  const [jobs, refreshJobs] = usePoll<JobInfo[]>(() => client.jobs(), 2000, view === 'Jobs' && live, report);
  const [requests] = usePoll<RequestRow[]>(() => client.requests(filters, Math.max(5, size.rows - 8)), 1000, view === 'Requests' && live, report);
  const todayTokens = useMemo(() => {
    const totals = new Map<string, number>();
    for (const row of usage ?? []) totals.set(row.key_id, (totals.get(row.key_id) ?? 0) + row.total_tokens);
    return totals;
  }, [usage]);

  const rowsOf: Record<ViewName, number> = {
    Overview: snapshot?.models.length ?? 0,
    Keys: keys?.length ?? 0,
    Models: snapshot?.models.length ?? 0,
    Jobs: jobs?.length ?? 0,
    Requests: requests?.length ?? 0,
  };
  const selected = Math.min(selection[view], Math.max(0, rowsOf[view] - 1));
  const rowsRef = useRef(rowsOf);
  rowsRef.current = rowsOf;
  const dataRef = useRef({ keys, snapshot, jobs });
  dataRef.current = { keys, snapshot, jobs };

  function newKeyForm(): Dialog {
    return {
      kind: 'form',
      form: {
        title: 'New key',
        focus: 0,
        fields: [
          { name: 'name', label: 'Name', value: '', kind: 'text' },
          { name: 'scope', label: 'Scope', value: 'user', kind: 'choice', choices: ['user', 'admin'] },
          { name: 'rpm', label: 'Requests per minute', value: '', kind: 'number' },
          { name: 'tpm', label: 'Tokens per minute', value: '', kind: 'number' },
          { name: 'daily_tokens', label: 'Daily token quota', value: '', kind: 'number' },
          { name: 'monthly_tokens', label: 'Monthly token quota', value: '', kind: 'number' },
        ],
      },
      submit: async (values) => {
        const input: Record<string, unknown> = { name: values.name, scope: values.scope };
        for (const name of ['rpm', 'tpm', 'daily_tokens', 'monthly_tokens']) if (values[name]) input[name] = Number(values[name]);
        const created = await client.createKey(input);
        refreshKeys();
        showDialog({ kind: 'secret', title: `Key '${created.name}' created (${created.id})`, secret: created.key });
      },
    };
  }

  function editKeyForm(key: KeyInfo): Dialog {
    const text = (value: number | null) => (value === null ? '' : String(value));
    return {
      kind: 'form',
      form: {
        title: `Limits and quotas of '${key.name}' (empty = none)`,
        focus: 0,
        fields: [
          { name: 'rpm', label: 'Requests per minute', value: text(key.rpm), kind: 'number' },
          { name: 'tpm', label: 'Tokens per minute', value: text(key.tpm), kind: 'number' },
          { name: 'max_concurrent', label: 'Max concurrent', value: text(key.max_concurrent), kind: 'number' },
          { name: 'daily_tokens', label: 'Daily token quota', value: text(key.daily_tokens), kind: 'number' },
          { name: 'monthly_tokens', label: 'Monthly token quota', value: text(key.monthly_tokens), kind: 'number' },
        ],
      },
      submit: async (values) => {
        const patch = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, limitValue(value)]));
        await client.updateKey(key.id, patch);
        refreshKeys();
        showDialog(undefined);
        setMessage({ text: `Limits of '${key.name}' saved` });
      },
    };
  }

  function onDialogInput(current: Dialog, input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]) {
    if (current.kind === 'help') return showDialog(undefined);
    if (current.kind === 'secret') {
      if (key.return || key.escape) showDialog(undefined);
      return;
    }
    if (current.kind === 'confirm') {
      if (input === 'y' || input === 'Y') {
        showDialog(undefined);
        void current.action().catch(report);
      } else if (input === 'n' || input === 'N' || key.escape) {
        showDialog(undefined);
        setMessage({ text: 'Cancelled' });
      }
      return;
    }
    if (key.escape) return showDialog(undefined);
    if (key.return) {
      const submitted = current.form;
      current.submit(formValues(submitted)).catch((error: unknown) => {
        if (error instanceof AdminAuthError) return report(error);
        showDialog({ ...current, form: { ...submitted, error: (error as Error).message } });
      });
      return;
    }
    const form = editForm(current.form, { input, ...key });
    if (form !== current.form) showDialog({ ...current, form });
  }

  useInput((input, key) => {
    const current = dialogRef.current;
    if (current) return onDialogInput(current, input, key);
    if (input === 'q') return quit(0);
    if (input === '?') return showDialog({ kind: 'help' });
    const number = Number(input);
    if (number >= 1 && number <= viewNames.length) {
      setMessage(undefined);
      viewRef.current = viewNames[number - 1]!;
      return setView(viewRef.current);
    }
    // From refs, not this render's values: keys can come faster than renders.
    const view = viewRef.current;
    const rows = rowsRef.current[view];
    const selected = Math.min(selectionRef.current[view], Math.max(0, rows - 1));
    const move = (delta: number) => {
      selectionRef.current = { ...selectionRef.current, [view]: Math.max(0, Math.min(rows - 1, selected + delta)) };
      setSelection(selectionRef.current);
    };
    const { keys, snapshot, jobs } = dataRef.current;
    const selectedKey = keys?.[selected];
    const selectedModel = snapshot?.models[selected];
    const selectedJob = jobs?.[selected];
    if (key.upArrow || input === 'k') return move(-1);
    if (key.downArrow || input === 'j') return move(1);
    if (view === 'Keys') {
      if (input === 'n') return showDialog(newKeyForm());
      if (!selectedKey) return;
      if (input === 'e') return showDialog(editKeyForm(selectedKey));
      if (input === 'r')
        return showDialog({
          kind: 'confirm',
          question: `Revoke key '${selectedKey.name}' (${selectedKey.prefix}…)? Apps using it stop working at once.`,
          action: async () => {
            await client.revokeKey(selectedKey.id);
            refreshKeys();
            setMessage({ text: `Key '${selectedKey.name}' revoked` });
          },
        });
      if (input === 'R')
        return showDialog({
          kind: 'confirm',
          question: `Rotate key '${selectedKey.name}'? The current secret stops working at once.`,
          action: async () => {
            const rotated = await client.rotateKey(selectedKey.id);
            refreshKeys();
            showDialog({ kind: 'secret', title: `New secret for '${rotated.name}'`, secret: rotated.key });
          },
        });
    }
    if (view === 'Models' && selectedModel && (input === 'l' || input === 'u')) {
      const id = selectedModel.id;
      setBusyModels((current) => new Set([...current, id]));
      const work = input === 'l' ? () => client.loadModel(id) : () => client.unloadModel(id);
      setMessage({ text: `${input === 'l' ? 'Loading' : 'Unloading'} ${id}…` });
      work()
        .then(
          (info) => setMessage({ text: `${id}: ${info.state}` }),
          (error: unknown) => report(error),
        )
        .finally(() =>
          setBusyModels((current) => {
            const next = new Set(current);
            next.delete(id);
            return next;
          }),
        );
      return;
    }
    if (view === 'Jobs' && selectedJob && input === 'c') {
      return showDialog({
        kind: 'confirm',
        question: selectedJob.kind === 'batch' ? `Cancel batch ${selectedJob.id}? No new line starts; running lines finish.` : `Cancel job ${selectedJob.id} (${selectedJob.kind})?`,
        action: async () => {
          const job = await client.cancelJob(selectedJob.id);
          refreshJobs();
          // A batch goes through 'cancelling' (its running lines finish) to 'cancelled'.
          setMessage({ text: `Job ${selectedJob.id} ${job.state}` });
        },
      });
    }
    if (view === 'Requests') {
      if (input === 's') {
        const next = statusFilters[(statusFilters.indexOf(filters.status as (typeof statusFilters)[number]) + 1) % statusFilters.length];
        return setFilters((current) => ({ ...current, status: next }));
      }
      if (input === 'f')
        return showDialog({
          kind: 'form',
          form: { title: 'Filter the request log by key id (empty: all keys)', focus: 0, fields: [{ name: 'key_id', label: 'Key id', value: filters.key_id ?? '', kind: 'text' }] },
          submit: async (values) => {
            setFilters((current) => ({ ...current, key_id: values.key_id?.trim() || undefined }));
            showDialog(undefined);
          },
        });
    }
  });

  const width = Math.max(40, size.columns);
  const bodyRows = Math.max(5, size.rows - 4);
  const tabs = viewNames.map((name, index) => `${index + 1} ${name}`);
  return (
    <ThemeContext.Provider value={theme}>
      <Box flexDirection="column" width={width} height={size.rows}>
        <Box>
          <Text bold color={theme.accent}>
            llmsvc top
          </Text>
          <Text> {client.baseUrl} </Text>
          <Text color={theme.dim}>{snapshot ? `v${snapshot.version} · up ${uptime(snapshot.uptime_s)}` : ''}</Text>
        </Box>
        <Box>
          {tabs.map((tab, index) => (
            <Text key={tab} inverse={viewNames[index] === view}>
              {` ${tab} `}
            </Text>
          ))}
          <Text color={theme.dim}> ? help · q quit</Text>
        </Box>
        {feed.state !== 'live' ? (
          <Text color={theme.warn} bold inverse={!theme.warn}>
            {feed.state === 'connecting' ? ' connecting… ' : ` reconnecting… (${feed.detail ?? 'the server went away'}) `}
          </Text>
        ) : (
          <Text> </Text>
        )}
        <Box flexDirection="column" height={bodyRows} overflow="hidden">
          {dialog?.kind === 'help' ? (
            <Help />
          ) : dialog?.kind === 'form' ? (
            <FormDialog form={dialog.form} />
          ) : dialog?.kind === 'confirm' ? (
            <ConfirmDialog question={dialog.question} />
          ) : dialog?.kind === 'secret' ? (
            <SecretDialog title={dialog.title} secret={dialog.secret} />
          ) : view === 'Overview' ? (
            <Overview snapshot={snapshot} history={history} width={width} selected={selected} />
          ) : view === 'Keys' ? (
            <Keys keys={keys} todayTokens={todayTokens} selected={selected} width={width} />
          ) : view === 'Models' ? (
            <Models models={snapshot?.models} selected={selected} busy={busyModels} />
          ) : view === 'Jobs' ? (
            <Jobs jobs={jobs} selected={selected} width={width} />
          ) : (
            <Requests rows={requests} filters={filters} selected={selected} width={width} />
          )}
        </Box>
        <Text color={message?.bad ? theme.bad : theme.dim} wrap="truncate-end">
          {message?.text ?? hints(view)}
        </Text>
      </Box>
    </ThemeContext.Provider>
  );
}

function hints(view: ViewName): string {
  switch (view) {
    case 'Keys':
      return 'n new · e edit limits · r revoke · R rotate · ↑↓ select';
    case 'Models':
      return 'l load · u unload · ↑↓ select';
    case 'Jobs':
      return 'c cancel · ↑↓ select';
    case 'Requests':
      return 's status filter · f key filter · ↑↓ select';
    default:
      return '1-5 views · ? help · q quit';
  }
}
