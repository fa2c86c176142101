/** `jetmesh permissions`: the least NATS permissions of a namespace's members or clients, as server configuration. */
import { type Command, Option } from "commander";
import { permissions, permissionsConfig } from "../../client/index.js";
import { type Io, writeOut } from "../io.js";

interface PermissionsFlags {
  namespace: string;
  role: "member" | "client";
  micro?: boolean;
  topicsStream?: string;
  tunnelsStream?: string;
  inboxPrefix?: string;
  json?: boolean;
}

/** Adds the `permissions` command to `program`. */
export function addPermissionsCommand(program: Command, io: Io): void {
  program
    .command("permissions")
    .description("print the NATS permissions a namespace's members (or clients) need, and no more")
    .option("-n, --namespace <ns>", "subject namespace", "jetmesh")
    .addOption(new Option("--role <role>", "what the user does").choices(["member", "client"]).default("member"))
    .option("--micro", "also $SRV.> so NATS micro tools see members (tenants then see each other's cluster names)")
    .option("--topics-stream <name>", "the topics stream's name, if not the default")
    .option("--tunnels-stream <name>", "the tunnels stream's name, if not the default")
    .option("--inbox-prefix <prefix>", "the connections' inbox prefix, if not the default _INBOX_<ns>")
    .option("--json", "the permissions as JSON")
    .action(async (flags: PermissionsFlags) => {
      const perms = permissions(flags.namespace, {
        role: flags.role,
        ...(flags.micro ? { micro: true } : {}),
        ...(flags.topicsStream === undefined ? {} : { topicsStream: flags.topicsStream }),
        ...(flags.tunnelsStream === undefined ? {} : { tunnelsStream: flags.tunnelsStream }),
        ...(flags.inboxPrefix === undefined ? {} : { inboxPrefix: flags.inboxPrefix }),
      });
      if (flags.json) {
        await writeOut(io, `${JSON.stringify(perms, null, 2)}\n`);
        return;
      }
      const head = `# jetmesh namespace "${flags.namespace}", a ${flags.role}: put this in the user's entry of the server's authorization block`;
      await writeOut(io, `${head}\n${permissionsConfig(perms)}\n`);
    });
}
