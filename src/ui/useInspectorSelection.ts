import { useCallback, useMemo, useRef, useState } from 'react';
import type { InspectedStep } from './components/TokenInspector';
import { historyBefore, runPaneKey, type PaneView } from './panes';

/** The inspector's selection: a pane (PaneView.key) and a token in it (null: follow the pane's newest token). */
export interface Selection {
  pane: string;
  index: number | null;
}

/**
 * Which token the inspector shows. It follows the newest token of pane 1 when a run starts; a
 * click (or Enter) on a token selects it, and selecting a streaming pane's newest token follows
 * it again. `inspected` is a new object only when what it shows changes (not with every token of
 * another pane), so the inspector's work is not redone while text streams.
 */
export function useInspectorSelection(panes: PaneView[], runId: number) {
  const [selection, setSelection] = useState<Selection>({ pane: runPaneKey(0), index: null });
  const [selectionRun, setSelectionRun] = useState(runId);
  if (selectionRun !== runId) {
    setSelectionRun(runId);
    setSelection({ pane: runPaneKey(0), index: null });
  }

  // Token clicks read the panes as they are when the click happens.
  const panesRef = useRef(panes);
  panesRef.current = panes;
  /** One stable callback per pane key, so a token's element re-renders only when it changes. */
  const selectors = useRef(new Map<string, (index: number) => void>());
  const selectorFor = useCallback((key: string) => {
    let select = selectors.current.get(key);
    if (!select) {
      select = (index: number) => {
        const pane = panesRef.current.find((p) => p.key === key);
        const last = (pane?.tokens.length ?? 0) - 1;
        setSelection({ pane: key, index: pane?.streaming && index === last ? null : index });
      };
      selectors.current.set(key, select);
    }
    return select;
  }, []);

  const pane: PaneView | undefined = panes.find((p) => p.key === selection.pane) ?? panes[0];
  const tokens = pane?.tokens ?? [];
  const index = selection.index ?? tokens.length - 1;
  const token = tokens[index];
  const following = selection.index === null;
  // Each of these is a string, a number or an object that belongs to one token: stable while text streams.
  const paneName = pane?.name;
  const promptLength = pane?.promptIds?.length;
  const history = pane && token && pane.promptIds ? historyBefore(pane, index) : null;
  const inspected = useMemo<InspectedStep | null>(
    () =>
      paneName !== undefined && token && promptLength !== undefined && history
        ? { paneName, index, following, token, promptLength, history }
        : null,
    [paneName, index, following, token, promptLength, history],
  );

  return {
    /** The pane the inspector shows (pane 1 when the selected one is gone). */
    pane,
    /** The selected token's index in it, and the token (undefined before the pane has any). */
    index,
    token,
    /** How many tokens the pane has. */
    count: tokens.length,
    inspected,
    setSelection,
    selectorFor,
  };
}
