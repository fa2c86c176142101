/** The payload a command sends: given on the command line or read from standard input. */
import { type Io, readAll } from "./io.js";

/** The payload of a command: the argument, standard input when it is `-`, or nothing. */
export async function payload(data: string | undefined, io: Io): Promise<Uint8Array> {
  if (data === "-") return readAll(io.stdin);
  return new TextEncoder().encode(data ?? "");
}
