"""conformance-lab: stand up the offline lab (engine, registry mirror, seed images, lab hosts)."""
import argparse
import shutil
import sys

import docker

from conformance.lab import daemon_json, engine, images, paths, registry
from conformance.lab.hosts import bridge_gateway
from conformance.lab.progress import LabError, say, step


def mirror_url():
    return registry.url("127.0.0.1")


def up(args):
    """Install, start and fill everything the lab needs; idempotent."""
    with step("packages"):
        missing = engine.missing_packages()
        if missing:
            engine.install_packages(missing)
    # A stopped engine reads daemon.json when it starts; only a running one needs a restart to read it.
    running = engine.answers()
    with step(f"registry-mirrors in {paths.DAEMON_JSON}"):
        changed = daemon_json.merge(paths.DAEMON_JSON, {"registry-mirrors": [mirror_url()]})
        if changed and running:
            say("  daemon.json changed: restarting the engine")
            engine.restart()
    with step("engine"):
        engine.start()
    with engine.client() as client:
        gateway = bridge_gateway(client)
        with step(f"registry on 127.0.0.1 and {gateway}"):
            registry.ensure(["127.0.0.1", gateway])
        for recipe in images.SEED_IMAGES:
            image = images.ensure_built(client, recipe)
            images.ensure_pushed(client, recipe, image)
    say(f"lab is up: registry mirror {mirror_url()} (lab hosts use http://{gateway}:{paths.REGISTRY_PORT})")
    return 0


def down(args):
    """Remove every lab object and restore daemon.json; nothing else is touched."""
    from conformance.lab import hosts
    if engine.answers():
        with engine.client() as client:
            with step("lab hosts"):
                hosts.remove_all(client)
            if not args.keep_images:
                with step("lab images"):
                    say(f"  removed {images.remove_all(client)} image(s)")
    with step("registry"):
        registry.stop()
        shutil.rmtree(paths.REGISTRY_DATA, ignore_errors=True)
    with step(f"restore {paths.DAEMON_JSON}"):
        if daemon_json.restore(paths.DAEMON_JSON) and engine.answers():
            say("  daemon.json restored: restarting the engine")
            engine.restart()
    return 0


def status(args):
    ok = engine.answers()
    print(f"engine:   {'answering' if ok else 'not answering'} on {engine.LOCAL_SOCKET}")
    print(f"registry: {'answering' if registry.answers() else 'not answering'} on {mirror_url()}"
          + (f" ({', '.join(registry.catalog())})" if registry.answers() else ""))
    if ok:
        from conformance.lab import hosts
        with engine.client() as client:
            for recipe in (*images.SEED_IMAGES, images.HOST):
                present = bool(client.images.list(name=recipe.tag))
                print(f"image:    {recipe.tag} {'present' if present else 'not built'}")
            for row in hosts.list_hosts(client):
                print(f"host:     {row}")
    return 0 if ok else 1


def show_variants(args):
    from conformance.lab import variants
    for variant in variants.load().values():
        print(f"{variant.name:24} {variant.description}")
    return 0


def host_start(args):
    from conformance.lab import hosts
    with engine.client(timeout=120) as client:
        spec = hosts.start(client, args.name, args.variant)
    print(spec)
    return 0


def host_stop(args):
    from conformance.lab import hosts
    with engine.client() as client:
        hosts.stop(client, args.name)
    return 0


def host_list(args):
    from conformance.lab import hosts
    with engine.client() as client:
        for row in hosts.list_hosts(client):
            print(row)
    return 0


def verify_report(args):
    from conformance import bundle
    return bundle.verify_command(args.folder, args.allowed_signers, args.identity)


def parser():
    p = argparse.ArgumentParser(prog="conformance-lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="Install and start the engine, the registry mirror and the seed images").set_defaults(func=up)
    d = sub.add_parser("down", help="Remove every lab object and restore daemon.json")
    d.add_argument("--keep-images", action="store_true", help="Keep the built images (a later up is faster)")
    d.set_defaults(func=down)
    sub.add_parser("status", help="Show what of the lab is running").set_defaults(func=status)
    sub.add_parser("variants", help="List the lab host variants").set_defaults(func=show_variants)
    v = sub.add_parser("verify-report", help="Check a run folder against its MANIFEST.sha256 (changed, missing or "
                       "extra files) and its signature; exit 1 if it does not match")
    v.add_argument("folder", help="A run folder, e.g. reports/latest")
    v.add_argument("--allowed-signers", metavar="FILE",
                   help="Check MANIFEST.sha256.sig against this ssh allowed_signers file (ssh-keygen(1)); "
                        "exit 1 unless a key it lists signed the manifest")
    v.add_argument("--identity", metavar="PRINCIPAL",
                   help="The principal the signature must be from (default: any principal of --allowed-signers "
                        "whose key made it)")
    v.set_defaults(func=verify_report)
    h = sub.add_parser("host", help="Start, stop or list lab hosts").add_subparsers(dest="host_command", required=True)
    s = h.add_parser("start", help="Start a lab host; prints its target spec last")
    s.add_argument("name")
    s.add_argument("--variant", default="debian", help="Variant to start (see `conformance-lab variants`)")
    s.set_defaults(func=host_start)
    t = h.add_parser("stop", help="Stop and remove a lab host and its volume")
    t.add_argument("name")
    t.set_defaults(func=host_stop)
    h.add_parser("list", help="List lab hosts with their target specs").set_defaults(func=host_list)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as e:
        print(f"conformance-lab: {e}", file=sys.stderr)
        return 1
    except docker.errors.DockerException as e:
        print(f"conformance-lab: Docker engine error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("conformance-lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
