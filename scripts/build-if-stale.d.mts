/** Where the last successful build is recorded, relative to the project root. */
export declare const STAMP: string;
/** Why `root` needs a build, or undefined when dist/ is up to date. */
export declare function staleReason(root: string): string | undefined;
/** Builds `root` with `npm run build`; on success, records the build as of its start. Returns the exit code. */
export declare function build(root: string): number;
