/**
 * devlab: "Save All, Stop Server and Log Out".
 *
 * One command (File menu, through schema/plugin.json, and the command palette) that
 * saves every open document, stops this lab through the hub's REST API and ends on
 * the hub's logout page. A lab holds CPU and memory until it is stopped, and people
 * who just "log out" leave it running; this makes leaving properly one click.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { ServerConnection } from '@jupyterlab/services';

const COMMAND = 'devlab:save-stop-logout';

/** What jupyterhub-singleuser puts in the page config (its page_config_hook). */
interface IHub {
  host: string; // '' when the hub is on this page's origin (devlab's case)
  prefix: string; // '/hub/'
  user: string; // the server's owner, who is not always the viewer (admins)
  serverName: string; // '' for the default server
  token: string; // the OAuth token this page uses; its scopes are set by the hub
}

function hubFromPageConfig(): IHub | null {
  const prefix = PageConfig.getOption('hubPrefix');
  if (!prefix) {
    return null; // not started by a JupyterHub
  }
  return {
    host: PageConfig.getOption('hubHost'),
    prefix,
    user:
      PageConfig.getOption('hubServerUser') || PageConfig.getOption('hubUser'),
    serverName: PageConfig.getOption('hubServerName'),
    token: PageConfig.getToken()
  };
}

/** Saves each open, modified, writable document once; returns the paths that failed. */
async function saveAll(
  app: JupyterFrontEnd,
  docManager: IDocumentManager
): Promise<string[]> {
  const contexts = new Map<string, DocumentRegistry.Context>();
  for (const widget of app.shell.widgets('main')) {
    const context = docManager.contextForWidget(widget);
    if (context && !contexts.has(context.path)) {
      contexts.set(context.path, context);
    }
  }
  const failed: string[] = [];
  for (const context of contexts.values()) {
    const writable = context.contentsModel?.writable ?? false;
    if (!context.model.dirty) {
      continue;
    }
    if (!writable || context.model.readOnly) {
      failed.push(`${context.path} (read-only)`);
      continue;
    }
    try {
      await context.save();
    } catch (error) {
      console.error(`devlab: could not save ${context.path}`, error);
      failed.push(context.path);
    }
  }
  return failed;
}

/**
 * Asks the hub to stop this server: DELETE /hub/api/users/<user>/server, with the
 * page's OAuth token. That token may do it only if the hub grants this server's OAuth
 * client the scope servers!server=<user>/<name> (devlab's hub does). If the hub
 * refuses, the lab shuts itself down instead (/api/shutdown), and the hub notices on
 * its next poll: slower, but the user asked for the lab to stop.
 */
async function stopServer(hub: IHub): Promise<void> {
  const server = hub.serverName
    ? `servers/${encodeURIComponent(hub.serverName)}`
    : 'server';
  const url =
    hub.host +
    URLExt.join(hub.prefix, 'api/users', encodeURIComponent(hub.user), server);
  const reply = await fetch(url, {
    method: 'DELETE',
    headers: { Authorization: `token ${hub.token}` },
    credentials: 'omit' // the token is the credential; no hub cookie, no XSRF check
  });
  // 202: stopping (the hub finishes it); 204: stopped; 404 on a server already gone.
  if (reply.ok || reply.status === 404) {
    return;
  }
  console.warn(
    `devlab: the hub refused to stop the server (${reply.status}); shutting the lab down`,
    await reply.text()
  );
  const settings = ServerConnection.makeSettings();
  await ServerConnection.makeRequest(
    URLExt.join(settings.baseUrl, 'api/shutdown'),
    { method: 'POST' },
    settings
  );
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@devlab/save-and-quit:plugin',
  description: 'Save All, Stop Server and Log Out',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    palette: ICommandPalette | null
  ) => {
    const hub = hubFromPageConfig();
    app.commands.addCommand(COMMAND, {
      label: 'Save All, Stop Server and Log Out',
      caption: 'Save every open document, stop this server and log out of the hub',
      isEnabled: () => hub !== null,
      execute: async () => {
        if (hub === null) {
          return;
        }
        const answer = await showDialog({
          title: 'Save all, stop the server and log out?',
          body: 'Open documents are saved; running kernels and terminals end.',
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: 'Stop and Log Out' })
          ]
        });
        if (!answer.button.accept) {
          return;
        }
        const failed = await saveAll(app, docManager);
        if (failed.length > 0) {
          // Never stop a server with unsaved work: the user decides what to do.
          await showDialog({
            title: 'Not stopped: some documents were not saved',
            body: failed.join(', '),
            buttons: [Dialog.okButton()]
          });
          return;
        }
        try {
          await stopServer(hub);
        } catch (error) {
          // Saved, so logging out loses nothing; the hub shows the server's state.
          console.error('devlab: could not stop the server', error);
        }
        // The hub's own logout, not hub:logout: that one goes through this server's
        // /logout, which no longer answers once the server is stopped.
        window.location.href = hub.host + URLExt.join(hub.prefix, 'logout');
      }
    });
    palette?.addItem({ command: COMMAND, category: 'Hub' });
  }
};

export default plugin;
