// nginx as the C baseline: one worker, keep-alive to the app (an upstream pool with `keepalive`, HTTP/1.1 and an
// empty Connection header), no access log, everything in a temp prefix so nothing outside it is touched.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Proc, startProc } from './proxy-procs.ts';
import type { BenchTools } from './proxy-tools.ts';

export function nginxConf(prefix: string, listenPort: number, appPort: number): string {
  const tmp = (d: string) => join(prefix, 'tmp', d);
  return `worker_processes 1;
daemon off;
master_process on;
error_log stderr warn;
pid ${join(prefix, 'nginx.pid')};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${tmp('body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${appPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export function startNginx(tools: BenchTools, prefix: string, listenPort: number, appPort: number): Proc {
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, 'tmp', d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConf(prefix, listenPort, appPort));
  // -e: the error log before the config is read (the compiled-in default is under /var/log).
  return startProc('nginx', tools.nginx, ['-p', prefix, '-c', conf, '-e', 'stderr'], tools.env);
}
