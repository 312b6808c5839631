import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { BranchState } from './appState';
import type { InspectedStep } from './components/TokenInspector';
import { INSPECTOR_ID } from './inspection';
import { branchPaneKey, historyBefore, runPaneKey, type PaneView } from './panes';

/** A pane to bring into view once it is on the page, and whether its tokens take the focus. */
interface Reveal {
  pane: string;
  focus: boolean;
}

/** The inspector's selection: a pane (PaneView.key) and a token in it (null: follow the pane's newest token). */
export interface Selection {
  pane: string;
  index: number | null;
}

/**
 * Which token the inspector shows. It follows the newest token of pane 1 when a run starts; a
 * click (or Enter) on a token selects it (and brings the inspector into view when it is off
 * screen, as on a phone), and selecting a streaming pane's newest token follows it again. A new
 * branch is scrolled into view; the inspector stays on the step being studied unless "follow
 * newest" (`followBranches`) is on. `inspected` is a new object only when what it shows changes
 * (not with every token of another pane), so the inspector's work is not redone while text streams.
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
        requestAnimationFrame(revealInspector);
      };
      selectors.current.set(key, select);
    }
    return select;
  }, []);

  const [followBranches, setFollowBranches] = useState(false);
  const followRef = useRef(followBranches);
  followRef.current = followBranches;
  /** Set by a branch opening or closing; the panes' next change puts that pane on screen. */
  const reveal = useRef<Reveal | null>(null);
  useEffect(() => {
    const target = reveal.current && panes.find((p) => p.key === reveal.current?.pane);
    const element = target ? paneElement(target.label) : null;
    if (!reveal.current || !element) return;
    const { focus } = reveal.current;
    reveal.current = null;
    element.scrollIntoView({ block: 'nearest' });
    if (focus) element.querySelector<HTMLElement>('[role="listbox"]')?.focus({ preventScroll: true });
  }, [panes]);

  /** A branch started (request `requestId`): it comes into view; the inspector moves to it only when following. */
  const branched = useCallback((requestId: number) => {
    const key = branchPaneKey(requestId);
    const follow = followRef.current;
    reveal.current = { pane: key, focus: follow };
    if (follow) setSelection({ pane: key, index: null });
  }, []);

  /** A branch closed: the inspector goes back to where it came from if it showed it; focus goes to the parent pane's tokens. */
  const branchClosed = useCallback((closed: BranchState) => {
    reveal.current = { pane: closed.parent, focus: true };
    setSelection((current) => (current.pane === branchPaneKey(closed.requestId) ? { pane: closed.parent, index: closed.step } : current));
  }, []);

  const pane: PaneView | undefined = panes.find((p) => p.key === selection.pane) ?? panes[0];
  const tokens = pane?.tokens ?? [];
  const index = selection.index ?? tokens.length - 1;
  const token = tokens[index];
  const following = selection.index === null;
  // Each of these is a string, a number or an object that belongs to one token: stable while text streams.
  const paneKey = pane?.key;
  const paneName = pane?.name;
  const promptLength = pane?.promptIds?.length;
  const options = pane?.options;
  const history = pane && token && pane.promptIds ? historyBefore(pane, index) : null;
  const inspected = useMemo<InspectedStep | null>(
    () =>
      paneKey !== undefined && paneName !== undefined && token && promptLength !== undefined && history && options
        ? { paneKey, paneName, index, following, token, promptLength, history, options }
        : null,
    [paneKey, paneName, index, following, token, promptLength, history, options],
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
    followBranches,
    setFollowBranches,
    branched,
    branchClosed,
  };
}

/** An output pane's element, by its region's accessible name. */
function paneElement(label: string): HTMLElement | null {
  return [...document.querySelectorAll<HTMLElement>('section.output-pane')].find((el) => el.getAttribute('aria-label') === label) ?? null;
}

/** Scrolls the inspector to the top of the screen when its top is not on screen (one column: it is below the text). */
function revealInspector(): void {
  const inspector = document.getElementById(INSPECTOR_ID);
  if (!inspector) return;
  const top = inspector.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.5) inspector.scrollIntoView({ block: 'start' });
}
