// The part of chrome-remote-interface nodetop uses. @types/chrome-remote-interface drags in the
// whole devtools-protocol typings for one function; session.ts types what it needs itself.
declare module 'chrome-remote-interface' {
  function CDP(options: { target?: string | { webSocketDebuggerUrl: string }; host?: string; port?: number; local?: boolean; protocol?: object }): Promise<unknown>;
  export default CDP;
}
