"""A seeded simulator of OpenStack nova logs (loghub "openstack" format) for ``logbert demo``.

Modelled on the loghub / DeepLog OpenStack logs (``openstack_normal1``: build, short life,
delete, one VM after another with some overlap) and on the kalaki DevStack fault logs (VIF
timeouts, destroy right after create, libvirt errors). Every line has the loghub header::

    nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:04.500 2931 INFO nova.compute.manager \
[req-<uuid> - - - - -] [instance: <uuid>] VM Started (Lifecycle Event)

What is generated:

* VM lifecycles, concurrent and interleaved: claim (7 lines), image creation, VIF plugging,
  libvirt lifecycle events (Started/Paused/Resumed/Stopped), "Took N seconds to spawn/build",
  terminate/delete; some normal VMs are rebooted during their life.
* Lines without an instance id, as in the real logs: API wsgi requests (polling, create,
  delete, neutron's external events), metadata requests from the guests, periodic image-cache
  and resource-tracker audits, scheduler instance syncs.
* Faults (``FAULT_TYPES``), labelled per instance. Some add error templates (ERROR lines with a
  traceback); others are subtle: only the order changes or one step is missing, with no template
  that a normal VM does not also produce.
* Optional (``time_value_faults=True``; off by default, so the default logs do not change): faults
  of time and values with a normal key order (``TIME_VALUE_FAULT_TYPES``, issue 13): a slow
  hypervisor (the guest takes 3x longer to boot: "Took ~40 seconds to spawn"), a slow network
  allocation (port binding retried: long gaps before the VIF is plugged and before its event), an
  oversized disk request ("disk 480 GB" in the claim). A key-only detector cannot see them.
* Optional (``category_faults=True``; off by default, so the logs above do not change): a fault of a
  category with a normal key order (``CATEGORY_FAULT_TYPES``). With the option on, every delete's
  "VM Stopped" event is followed by the power-state sync "the DB power_state (1) does not match the
  VM power_state (4)" (4 = shut down; a numeric state after ``power_state`` is a category slot);
  the fault's guest reports a power state no normal lifecycle has there (6 crashed, 7 suspended,
  3 paused). The option draws from a stream of its own: the other instances' faults, lines and
  random streams stay those of the same seed without it (the sync lines come on top, with no draw).

The same ``seed`` always gives the same lines and labels.
"""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple, get_args

FaultType = Literal[
    "none",
    "destroy_after_create",  # deleted while still spawning (kalaki "VM destroy immediately after create")
    "vif_timeout",  # network-vif-plugged never arrives: 300 s timeout, spawn fails, build aborted
    "vif_timeout_nonfatal",  # same timeout, but vif_plugging_is_fatal=False: the spawn goes on, late
    "spawn_failure",  # libvirt cannot start the guest: ERROR + traceback, build fails
    "no_valid_host",  # claim fails (insufficient memory), rescheduling finds no valid host
    "rebuild_error",  # a rebuild of a running VM fails (image gone): ERROR + traceback, vm_state ERROR
    "stopped_early",  # subtle, order only: the guest stops by itself before it is deleted
    "network_dealloc_missing",  # subtle, missing step: network deallocation never reported on delete
    "lifecycle_event_lost",  # subtle, missing step: the "VM Resumed" lifecycle events never arrive
]

FAULT_TYPES: tuple[FaultType, ...] = get_args(FaultType)

#: Faults of time and values with a normal key order (``simulate_openstack(time_value_faults=True)``).
TimeValueFaultType = Literal[
    "slow_spawn",  # the hypervisor is slow: the guest boots in 28-40 s instead of 9-13 s (spawn ~40 s, not ~20 s)
    "slow_network",  # port binding retried: 9-16 s before the VIF is plugged, 15-25 s before its event
    "oversized_disk",  # the claim asks for a 320-640 GB disk (flavors ask for 1-40 GB); it succeeds
]
TIME_VALUE_FAULT_TYPES: tuple[TimeValueFaultType, ...] = get_args(TimeValueFaultType)
#: relative frequency of each time/value fault among the anomalous instances, when they are on
TIME_VALUE_FAULT_WEIGHTS: dict[TimeValueFaultType, float] = {
    "slow_spawn": 0.12,
    "slow_network": 0.12,
    "oversized_disk": 0.08,
}
_OVERSIZED_DISKS_GB = (320, 480, 640)

#: Faults of a category with a normal key order (``simulate_openstack(category_faults=True)``).
CategoryFaultType = Literal[
    "unusual_power_state",  # the deleted guest's power-state sync says crashed / suspended / paused, never shut down
]
CATEGORY_FAULT_TYPES: tuple[CategoryFaultType, ...] = get_args(CategoryFaultType)
#: share of the anomalous instances (``round(n_instances * anomaly_ratio)``) added as category faults, when on
CATEGORY_FAULT_SHARE = 0.06
#: nova power states: the one a deleted guest reports, and those of the category fault (crashed, suspended, paused)
_STOPPED_POWER_STATE = 4
_UNUSUAL_POWER_STATES = (6, 7, 3)

#: relative frequency of each fault among the anomalous instances
FAULT_WEIGHTS: dict[FaultType, float] = {
    "destroy_after_create": 0.16,
    "vif_timeout": 0.13,
    "vif_timeout_nonfatal": 0.06,
    "spawn_failure": 0.12,
    "no_valid_host": 0.09,
    "rebuild_error": 0.09,
    "stopped_early": 0.13,
    "network_dealloc_missing": 0.12,
    "lifecycle_event_lost": 0.10,
}

DEFAULT_START = datetime(2017, 5, 16, 0, 0, 0)  # the day loghub's openstack_normal1 was recorded

_HOST = "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us"
_INSTANCES_DIR = "/var/lib/nova/instances"
_IMAGE = "0673dd71-34c5-4fbb-86c4-40623fbe45b4"  # the one cirros image every VM boots
_BASE_FILE = f"{_INSTANCES_DIR}/_base/a489c868f0c37da93b76227c91bb03908ac0e742"
_PID_COMPUTE, _PID_API, _PID_API_EVENTS, _PID_SCHED = 2931, 25746, 25743, 2816
_METADATA_PIDS = (25783, 25784, 25786, 25793)
_TOTAL_MEM_MB, _MEM_LIMIT_MB, _TOTAL_DISK_GB, _TOTAL_VCPUS, _RESERVED_MEM_MB = 64172, 96258, 15, 16, 512
#: (memory MB, disk GB, vcpus, weight); most builds are m1.small as in the loghub set
_FLAVORS = ((2048, 20, 1, 0.8), (512, 1, 1, 0.1), (4096, 40, 2, 0.1))
_HUGE_FLAVOR = (131072, 160, 16)  # asks for more memory than the host's limit: the claim fails
_MEAN_ARRIVAL_S = 28.0  # mean gap between two create requests (VMs live ~40-90 s, so 1-3 overlap)
_POLL_MEAN_S = 1.4  # clients poll GET /servers/detail about this often while VMs exist
_IMAGECACHE_PERIOD_S = 45.0
_RESOURCE_AUDIT_PERIOD_S = 60.0
_SCHEDULER_SYNC_PERIOD_S = 120.0
_USAGE_AUDIT_PERIOD_S = 3600.0
_VIF_TIMEOUT_S = 300  # nova's default vif_plugging_timeout


class _Line(NamedTuple):
    ms: int  # milliseconds after start; lines are sorted on (ms, seq)
    seq: int
    source: Literal["compute", "api", "scheduler"]
    pid: int
    level: str
    component: str
    context: str
    content: str


@dataclass(slots=True)
class SimulatedLog:
    """A simulated nova log: ``lines`` in loghub "openstack" format, labels per instance id."""

    lines: list[str]
    labels: dict[str, int]  # instance uuid -> 1 anomalous / 0 normal, for every simulated instance
    fault_types: dict[str, str]  # instance uuid -> a FaultType ("none" for normal instances)
    start: datetime = DEFAULT_START

    @property
    def n_anomalous(self) -> int:
        return sum(self.labels.values())


class SimulatedFiles(NamedTuple):
    log: Path  # nova.log
    labels: Path  # instance_labels.csv, kalaki format: instance_id,Label,lines_with_instance_id
    fault_types: Path  # fault_types.csv: instance_id,fault_type


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex32(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


@dataclass
class _World:
    """Everything shared by the generators: the rng, ids, the line buffer and VM occupancy."""

    rng: random.Random
    start: datetime
    user: str
    tenant: str
    neutron_user: str
    service_tenant: str
    lifecycle_req: str  # nova's libvirt event handler reuses one request context for all events
    periodic_req: str  # so do the periodic tasks
    category_faults: bool = False  # simulate_openstack(category_faults=True): a delete's power-state sync
    out: list[_Line] = field(default_factory=list)
    #: (start_s, end_s, memory MB, disk GB, vcpus) of every VM holding resources on the host
    occupancy: list[tuple[float, float, int, int, int]] = field(default_factory=list)

    def user_ctx(self, req: str) -> str:
        return f"req-{req} {self.user} {self.tenant} - - -"

    def sys_ctx(self, req: str) -> str:
        return f"req-{req} - - - - -"

    def emit(
        self,
        t: float,
        source: Literal["compute", "api", "scheduler"],
        level: str,
        component: str,
        context: str,
        content: str,
        pid: int | None = None,
    ) -> None:
        if pid is None:
            pid = {"compute": _PID_COMPUTE, "api": _PID_API, "scheduler": _PID_SCHED}[source]
        self.out.append(_Line(round(t * 1000), len(self.out), source, pid, level, component, context, content))

    def used_at(self, t: float) -> tuple[int, int, int, int]:
        """(n VMs, memory MB, disk GB, vcpus) in use at time ``t``."""
        live = [o for o in self.occupancy if o[0] <= t < o[1]]
        return len(live), sum(o[2] for o in live), sum(o[3] for o in live), sum(o[4] for o in live)


class _Vm:
    """One instance; methods emit its lines and advance ``self.t`` (seconds after start)."""

    def __init__(
        self,
        world: _World,
        rng: random.Random,
        t: float,
        fault: FaultType | TimeValueFaultType | CategoryFaultType,
        power_state: int = _STOPPED_POWER_STATE,
    ) -> None:
        self.w = world
        self.power_state = power_state  # what the power-state sync after delete reports (category_faults)
        self.rng = rng
        self.t = t
        self.fault = fault
        self.iid = _uuid(rng)
        self.port = _uuid(rng)
        self.build_req = _uuid(rng)
        self.ip = f"10.11.{rng.randint(20, 29)}.{rng.randint(2, 250)}"
        mem, disk, vcpus, _ = rng.choices(_FLAVORS, weights=[f[3] for f in _FLAVORS])[0]
        self.flavor = _HUGE_FLAVOR if fault == "no_valid_host" else (mem, disk, vcpus)
        if fault == "oversized_disk":
            self.flavor = (mem, rng.choice(_OVERSIZED_DISKS_GB), vcpus)
        self.t_claimed = t  # set again when the claim starts

    # -- helpers --------------------------------------------------------------------------------
    def wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def inst(self, level: str, component: str, context: str, msg: str, pid: int | None = None) -> None:
        self.w.emit(self.t, "compute", level, component, context, f"[instance: {self.iid}] {msg}", pid)

    def user(self, req: str | None = None) -> str:
        return self.w.user_ctx(req or self.build_req)

    def lifecycle(self, event: str) -> None:
        self.inst("INFO", "nova.compute.manager", self.w.sys_ctx(self.w.lifecycle_req), f"VM {event} (Lifecycle Event)")

    def sync_skip(self) -> None:
        self.inst(
            "INFO",
            "nova.compute.manager",
            self.w.sys_ctx(self.w.lifecycle_req),
            "During sync_power_state the instance has a pending task (spawning). Skip.",
        )

    def power_sync(self) -> None:
        """The power-state sync after a delete's "VM Stopped" (``category_faults`` only)."""
        self.inst(
            "INFO",
            "nova.compute.manager",
            self.w.sys_ctx(self.w.lifecycle_req),
            f"During sync_power_state the DB power_state (1) does not match the VM power_state ({self.power_state}). "
            "Updating power_state in the DB to match the hypervisor.",
        )

    def api(self, method: str, path: str, status: int, length: int, req: str | None = None) -> None:
        took = self.rng.uniform(0.05, 0.45)
        self.w.emit(
            self.t,
            "api",
            "INFO",
            "nova.osapi_compute.wsgi.server",
            self.w.user_ctx(req or _uuid(self.rng)),
            f'10.11.10.1 "{method} /v2/{self.w.tenant}/{path} HTTP/1.1" status: {status} len: {length} '
            f"time: {took:.7f}",
        )

    def traceback(self, component: str, frames: list[tuple[str, int, str]], exc: str) -> None:
        ctx = self.user()
        self.inst("ERROR", component, ctx, "Traceback (most recent call last):")
        for module, line_no, func in frames:
            self.t += 0.0005
            self.inst(
                "ERROR",
                component,
                ctx,
                f'  File "/usr/lib/python2.7/dist-packages/{module}", line {line_no}, in {func}',
            )
        self.inst("ERROR", component, ctx, exc)

    # -- phases ---------------------------------------------------------------------------------
    def request_create(self) -> None:
        self.api("POST", "servers", 202, self.rng.choice((733, 735, 737)))
        self.wait(0.6, 1.8)  # API -> conductor -> scheduler -> compute

    def claim(self) -> bool:
        """The 7 claim lines; False when the claim fails (the instance is rescheduled)."""
        mem, disk, vcpus = self.flavor
        _, used_mem, used_disk, used_vcpus = self.w.used_at(self.t)
        used_mem += _RESERVED_MEM_MB
        ctx = self.user()
        comp = "nova.compute.claims"
        self.inst("INFO", comp, ctx, f"Attempting claim: memory {mem} MB, disk {disk} GB, vcpus {vcpus} CPU")
        self.inst("INFO", comp, ctx, f"Total memory: {_TOTAL_MEM_MB} MB, used: {used_mem:.2f} MB")
        free = _MEM_LIMIT_MB - used_mem
        self.inst("INFO", comp, ctx, f"memory limit: {_MEM_LIMIT_MB:.2f} MB, free: {free:.2f} MB")
        self.t += 0.001
        self.inst("INFO", comp, ctx, f"Total disk: {_TOTAL_DISK_GB} GB, used: {used_disk:.2f} GB")
        self.inst("INFO", comp, ctx, "disk limit not specified, defaulting to unlimited")
        self.t += 0.001
        self.inst("INFO", comp, ctx, f"Total vcpu: {_TOTAL_VCPUS} VCPU, used: {used_vcpus:.2f} VCPU")
        self.inst("INFO", comp, ctx, "vcpu limit not specified, defaulting to unlimited")
        self.wait(0.02, 0.04)
        if mem > free:
            reason = f"Insufficient compute resources: Free memory {free:.2f} MB < requested {mem} MB."
            self.inst("INFO", "nova.compute.manager", ctx, f"Build of instance {self.iid} was re-scheduled: {reason}")
            return False
        self.inst("INFO", comp, ctx, "Claim successful")
        return True

    def create_image(self) -> None:
        self.wait(0.4, 0.8)
        self.inst("INFO", "nova.virt.libvirt.driver", self.user(), "Creating image")

    def plug_vif(self) -> None:
        if self.fault == "slow_network":
            self.wait(9.0, 16.0)  # port binding failed and was retried (no nova line says so)
        else:
            self.wait(1.5, 3.0)
        self.w.emit(
            self.t,
            "compute",
            "INFO",
            "os_vif",
            self.user(),
            f"Successfully plugged vif VIFOpenVSwitch(active=False,address=fa:16:3e:{self.rng.getrandbits(24):06x},"
            f"bridge_name='br-int',has_traffic_filtering=True,id={self.port},network=Network(d4b7c3a1),"
            f"plugin='ovs',port_profile=VIFPortProfileBase,preserve_on_delete=False,vif_name='tap{self.port[:11]}')",
        )

    def boot_guest(self) -> None:
        """Domain defined and started paused, waiting for the VIF event."""
        if self.fault == "slow_spawn":
            self.wait(28.0, 40.0)  # an overloaded hypervisor
        else:
            self.wait(9.0, 13.0)
        self.lifecycle("Started")
        self.wait(0.04, 0.08)
        self.lifecycle("Paused")
        self.wait(0.08, 0.15)
        self.sync_skip()

    def vif_event(self) -> None:
        if self.fault == "slow_network":
            self.wait(15.0, 25.0)
        else:
            self.wait(4.0, 7.5)
        req = _uuid(self.rng)
        ctx = f"req-{req} {self.w.neutron_user} {self.w.service_tenant} - - -"
        self.w.emit(
            self.t,
            "api",
            "INFO",
            "nova.api.openstack.compute.server_external_events",
            ctx,
            f"Creating event network-vif-plugged:{self.port} for instance {self.iid}",
            _PID_API_EVENTS,
        )
        self.t += 0.006
        self.w.emit(
            self.t,
            "api",
            "INFO",
            "nova.osapi_compute.wsgi.server",
            ctx,
            f'10.11.10.1 "POST /v2/{self.w.service_tenant}/os-server-external-events HTTP/1.1" status: 200 len: 380 '
            f"time: {self.rng.uniform(0.08, 0.11):.7f}",
            _PID_API_EVENTS,
        )
        self.t += 0.011

    def finish_spawn(self, *, resume_events: bool = True) -> None:
        if resume_events:
            self.lifecycle("Resumed")
        self.t += 0.006
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance spawned successfully.")
        spawn_took = self.t - self.t_claimed - self.rng.uniform(0.55, 0.75)
        self.inst(
            "INFO",
            "nova.compute.manager",
            self.user(),
            f"Took {spawn_took:.2f} seconds to spawn the instance on the hypervisor.",
        )
        if resume_events:
            self.wait(0.1, 0.13)
            self.sync_skip()
            self.t += 0.002
            self.lifecycle("Resumed")
        self.wait(0.02, 0.15)
        self.inst(
            "INFO",
            "nova.compute.manager",
            self.user(),
            f"Took {self.t - self.t_claimed:.2f} seconds to build instance.",
        )
        self.metadata_requests()

    def metadata_requests(self) -> None:
        """cloud-init in the guest fetches its metadata (no instance id on these lines)."""
        t = self.t + self.rng.uniform(3.0, 8.0)
        paths = [
            ("/openstack/2012-08-10/meta_data.json", 200, 264),
            ("/openstack/2013-10-17", 200, 157),
            ("/openstack/2013-10-17/vendor_data.json", 200, 124),
            ("/openstack/2013-10-17/user_data", 404, 176),
            ("/openstack/2013-10-17/meta_data.json", 200, 967),
        ]
        for path, status, length in paths[: self.rng.randint(3, 5)]:
            t += self.rng.uniform(0.01, 0.35)
            req = "-" if status == 404 or self.rng.random() < 0.3 else self.w.sys_ctx(_uuid(self.rng))
            self.w.emit(
                t,
                "api",
                "INFO",
                "nova.metadata.wsgi.server",
                req,
                f'{self.ip},10.11.10.1 "GET {path} HTTP/1.1" status: {status} len: {length} '
                f"time: {self.rng.uniform(0.0005, 0.26):.7f}",
                self.rng.choice(_METADATA_PIDS),
            )

    def reboot(self) -> None:
        self.wait(4.0, 20.0)
        req = _uuid(self.rng)
        self.api("POST", f"servers/{self.iid}/action", 202, 0, req)
        self.wait(0.03, 0.1)
        self.inst("INFO", "nova.compute.manager", self.user(req), "Rebooting instance")
        self.wait(2.5, 5.0)
        self.inst(
            "INFO",
            "nova.virt.libvirt.driver",
            self.user(req),
            f"Instance shutdown successfully after {round(self.t % 3) + 3} seconds.",
        )
        self.wait(0.1, 0.3)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance destroyed successfully.")
        self.wait(0.3, 0.9)
        self.lifecycle("Started")
        self.t += 0.05
        self.lifecycle("Resumed")
        self.wait(0.01, 0.05)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance rebooted successfully.")

    def delete(
        self,
        *,
        running: bool = True,
        dealloc: bool = True,
        stopped_event: bool = True,
        wait: bool = True,
        unplug_race: bool = False,
    ) -> None:
        if wait:
            self.wait(5.0, 60.0)
        req = _uuid(self.rng)
        self.api("DELETE", f"servers/{self.iid}", 204, 203, req)
        self.t += 0.03
        ctx = self.user(req)
        self.inst("INFO", "nova.compute.manager", ctx, "Terminating instance")
        if unplug_race:  # deleted while building: neutron's unplug event reaches a half-built instance
            self.wait(0.05, 0.12)
            self.inst(
                "WARNING",
                "nova.compute.manager",
                f"req-{_uuid(self.rng)} {self.w.neutron_user} {self.w.service_tenant} - - -",
                f"Received unexpected event network-vif-unplugged-{self.port} for instance with vm_state building "
                "and task_state deleting.",
            )
        self.wait(0.15, 0.3)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance destroyed successfully.")
        t_destroy = self.t
        if running:
            self.wait(0.2, 0.4)
            self.w.emit(
                self.t, "compute", "INFO", "os_vif", ctx, f"Successfully unplugged vif VIFOpenVSwitch(id={self.port})"
            )
        self.delete_files(ctx, t_destroy)
        self.deallocate(ctx, dealloc=dealloc)
        if stopped_event:
            self.wait(10.0, 16.0)
            self.lifecycle("Stopped")
            if self.w.category_faults:  # same time, no draw: every other line and stream stays as without it
                self.power_sync()

    def delete_files(self, ctx: str, t_destroy: float) -> None:
        """Instance files removed after a destroy, then the destroy's duration."""
        self.wait(0.3, 0.8)
        self.inst("INFO", "nova.virt.libvirt.driver", ctx, f"Deleting instance files {_INSTANCES_DIR}/{self.iid}_del")
        self.t += 0.002
        self.inst("INFO", "nova.virt.libvirt.driver", ctx, f"Deletion of {_INSTANCES_DIR}/{self.iid}_del complete")
        self.wait(0.1, 0.15)
        self.inst(
            "INFO",
            "nova.compute.manager",
            ctx,
            f"Took {self.t - t_destroy + 0.3:.2f} seconds to destroy the instance on the hypervisor.",
        )

    def deallocate(self, ctx: str, *, dealloc: bool = True) -> None:
        took = self.rng.uniform(0.4, 0.6)
        self.t += took
        if dealloc:
            self.inst(
                "INFO", "nova.compute.manager", ctx, f"Took {took:.2f} seconds to deallocate network for instance."
            )
        if self.rng.random() < 0.3:  # neutron's late port event finds the instance gone
            self.w.emit(
                self.t + 1.5,
                "api",
                "INFO",
                "nova.api.openstack.wsgi",
                f"req-{_uuid(self.rng)} {self.w.neutron_user} {self.w.service_tenant} - - -",
                "HTTP exception thrown: No instances found for any event",
                _PID_API_EVENTS,
            )

    def fail_build_cleanup(self, ctx: str) -> None:
        """The compute manager's cleanup after a failed spawn."""
        self.wait(0.05, 0.2)
        self.inst("INFO", "nova.compute.manager", ctx, "Terminating instance")
        self.wait(0.1, 0.3)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance destroyed successfully.")
        t_destroy = self.t
        self.delete_files(ctx, t_destroy)

    # -- whole lifecycles -------------------------------------------------------------------------
    def run(self) -> float:
        """Emit the whole lifecycle; returns when the instance stops holding host resources."""
        self.request_create()
        self.t_claimed = self.t
        if not self.claim():
            self.no_valid_host()
            return self.t_claimed  # held nothing
        self.create_image()
        fault = self.fault
        if fault == "spawn_failure":
            self.spawn_failure()
            return self.t
        self.plug_vif()
        if fault == "destroy_after_create":
            self.destroy_after_create()
            return self.t
        self.boot_guest()
        if fault == "vif_timeout":
            self.vif_timeout(fatal=True)
            return self.t
        if fault == "vif_timeout_nonfatal":
            self.vif_timeout(fatal=False)
        else:
            self.vif_event()
            self.finish_spawn(resume_events=fault != "lifecycle_event_lost")
        if fault == "rebuild_error":
            self.rebuild_error()
        elif fault == "stopped_early":
            self.wait(2.0, 20.0)
            self.lifecycle("Stopped")
            self.delete(running=False, stopped_event=False)
            return self.t
        elif fault in ("none", "unusual_power_state") and self.rng.random() < 0.15:  # the same draws as a normal VM
            self.reboot()
        self.delete(dealloc=fault != "network_dealloc_missing", stopped_event=fault != "rebuild_error")
        return self.t

    def destroy_after_create(self) -> None:
        if self.rng.random() < 0.6:  # the delete sometimes races the guest's first lifecycle events
            self.boot_guest()
        else:
            self.wait(1.0, 6.0)
        self.delete(running=True, wait=False, unplug_race=self.rng.random() < 0.5)

    def vif_timeout(self, *, fatal: bool) -> None:
        self.t += _VIF_TIMEOUT_S + self.rng.uniform(0.0, 0.1)
        ctx = self.user()
        self.inst(
            "WARNING",
            "nova.virt.libvirt.driver",
            ctx,
            f"Timeout waiting for [('network-vif-plugged', '{self.port}')] for instance with vm_state building and "
            f"task_state spawning.: eventlet.timeout.Timeout: {_VIF_TIMEOUT_S} seconds",
        )
        if not fatal:
            self.t += 0.2
            self.finish_spawn()
            return
        self.t += 0.01
        exc = "nova.exception.VirtualInterfaceCreateException: Virtual Interface creation failed"
        self.inst("ERROR", "nova.compute.manager", ctx, f"Instance failed to spawn: {exc}")
        self.traceback(
            "nova.compute.manager",
            [
                ("nova/compute/manager.py", 2125, "_build_resources"),
                ("nova/compute/manager.py", 1940, "_build_and_run_instance"),
                ("nova/virt/libvirt/driver.py", 2786, "spawn"),
                ("nova/virt/libvirt/driver.py", 5025, "_create_domain_and_network"),
            ],
            exc,
        )
        self.fail_build_cleanup(ctx)
        self.wait(0.01, 0.05)
        self.inst("ERROR", "nova.compute.manager", ctx, f"Failed to allocate network(s): {exc}")
        self.traceback("nova.compute.manager", [("nova/compute/manager.py", 1893, "_do_build_and_run_instance")], exc)
        self.wait(0.01, 0.05)
        msg = f"Build of instance {self.iid} aborted: Failed to allocate the network(s), not rescheduling."
        self.inst("ERROR", "nova.compute.manager", ctx, f"{msg}: nova.exception.BuildAbortException: {msg}")
        self.deallocate(ctx)
        self.wait(10.0, 16.0)
        self.lifecycle("Stopped")

    def spawn_failure(self) -> None:
        self.plug_vif()
        self.wait(2.0, 6.0)
        ctx = self.user()
        self.w.emit(
            self.t,
            "compute",
            "ERROR",
            "nova.virt.libvirt.guest",
            ctx,
            "Error launching a defined domain with XML: <domain type='kvm'>"
            f"<name>instance-{self.rng.getrandbits(24):08x}"
            f"</name><uuid>{self.iid}</uuid>",
        )
        reason = "internal error: process exited while connecting to monitor"
        self.t += 0.002
        self.inst(
            "ERROR", "nova.virt.libvirt.driver", ctx, f"Failed to start libvirt guest: libvirt.libvirtError: {reason}"
        )
        self.t += 0.01
        self.inst("ERROR", "nova.compute.manager", ctx, f"Instance failed to spawn: libvirt.libvirtError: {reason}")
        self.traceback(
            "nova.compute.manager",
            [
                ("nova/compute/manager.py", 2125, "_build_resources"),
                ("nova/virt/libvirt/driver.py", 2786, "spawn"),
                ("nova/virt/libvirt/guest.py", 137, "launch"),
                ("libvirt.py", 1099, "createWithFlags"),
            ],
            f"libvirtError: {reason}",
        )
        self.fail_build_cleanup(ctx)
        self.wait(0.02, 0.08)
        self.inst(
            "ERROR", "nova.compute.manager", ctx, f"Failed to build and run instance: libvirt.libvirtError: {reason}"
        )
        self.deallocate(ctx)

    def no_valid_host(self) -> None:
        self.wait(0.3, 1.2)
        ctx = self.user()
        self.inst(
            "WARNING",
            "nova.scheduler.utils",
            ctx,
            "Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.",
        )
        self.t += 0.004
        self.inst("WARNING", "nova.scheduler.utils", ctx, "Setting instance to ERROR state.")
        # the user deletes the errored instance: nothing to destroy on the hypervisor
        self.wait(5.0, 40.0)
        req = _uuid(self.rng)
        self.api("DELETE", f"servers/{self.iid}", 204, 203, req)
        self.t += 0.03
        self.inst("INFO", "nova.compute.manager", self.user(req), "Terminating instance")
        self.wait(0.1, 0.3)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance destroyed successfully.")
        self.deallocate(self.user(req))

    def rebuild_error(self) -> None:
        self.wait(4.0, 20.0)
        req = _uuid(self.rng)
        self.api("POST", f"servers/{self.iid}/action", 202, 1745, req)
        ctx = self.user(req)
        self.wait(0.05, 0.2)
        self.inst("INFO", "nova.compute.manager", ctx, "Rebuilding instance")
        self.wait(0.2, 0.6)
        self.inst("INFO", "nova.virt.libvirt.driver", "-", "Instance destroyed successfully.")
        self.wait(0.3, 0.8)
        self.inst("INFO", "nova.virt.libvirt.driver", ctx, f"Deleting instance files {_INSTANCES_DIR}/{self.iid}_del")
        self.t += 0.002
        self.inst("INFO", "nova.virt.libvirt.driver", ctx, f"Deletion of {_INSTANCES_DIR}/{self.iid}_del complete")
        self.wait(0.3, 0.8)
        self.inst("INFO", "nova.virt.libvirt.driver", ctx, "Creating image")
        self.wait(0.5, 2.0)
        exc = f"nova.exception.ImageNotFound: Image {_uuid(self.rng)} could not be found."
        self.inst("ERROR", "nova.compute.manager", ctx, f"Setting instance vm_state to ERROR: {exc}")
        self.traceback(
            "nova.compute.manager",
            [
                ("nova/compute/manager.py", 6607, "_error_out_instance_on_exception"),
                ("nova/compute/manager.py", 2717, "rebuild_instance"),
                ("nova/virt/libvirt/imagebackend.py", 218, "cache"),
                ("nova/image/glance.py", 369, "download"),
            ],
            exc,
        )


def _fault_plan(
    n_instances: int, anomaly_ratio: float, rng: random.Random, time_value_faults: bool = False
) -> list[FaultType | TimeValueFaultType]:
    n_anomalous = round(n_instances * anomaly_ratio)
    plan: list[FaultType | TimeValueFaultType] = ["none"] * n_instances
    mix: dict[FaultType | TimeValueFaultType, float] = dict(FAULT_WEIGHTS.items())
    if time_value_faults:
        mix.update(TIME_VALUE_FAULT_WEIGHTS.items())
    names = list(mix)
    weights = [mix[name] for name in names]
    for i in rng.sample(range(n_instances), n_anomalous):
        plan[i] = rng.choices(names, weights=weights)[0]
    return plan


def _periodic(world: _World, end_s: float) -> None:
    """Instance-less background lines: API polling, image cache, resource audit, scheduler sync."""
    rng = world.rng
    busy = [(o[0] - 2.0, o[1] + 5.0) for o in world.occupancy]
    t = rng.uniform(0.0, 1.0)
    while t < end_s:  # clients poll the server list while any VM exists
        if any(a <= t < b for a, b in busy):
            world.emit(
                t,
                "api",
                "INFO",
                "nova.osapi_compute.wsgi.server",
                world.user_ctx(_uuid(rng)),
                f'10.11.10.1 "GET /v2/{world.tenant}/servers/detail HTTP/1.1" status: 200 '
                f"len: {rng.choice((1874, 1893, 1910, 1916))} time: {rng.uniform(0.2, 0.43):.7f}",
            )
        t += rng.expovariate(1.0 / _POLL_MEAN_S)

    ctx = world.sys_ctx(world.periodic_req)
    events: list[tuple[float, Callable[[float], None]]] = []

    def imagecache(t: float) -> None:
        n_vms = world.used_at(t)[0]
        comp = "nova.virt.libvirt.imagecache"
        if n_vms:
            world.emit(t, "compute", "INFO", comp, ctx, f"image {_IMAGE} at ({_BASE_FILE}): checking")
            world.emit(
                t + 0.001,
                "compute",
                "INFO",
                comp,
                ctx,
                f"image {_IMAGE} at ({_BASE_FILE}): in use: on this node {n_vms} local, "
                "0 on other nodes sharing this instance storage",
            )
            world.emit(t + 0.18, "compute", "INFO", comp, ctx, f"Active base files: {_BASE_FILE}")
        else:
            world.emit(t, "compute", "WARNING", comp, ctx, f"Unknown base file: {_BASE_FILE}")
            world.emit(t + 0.001, "compute", "INFO", comp, ctx, f"Removable base files: {_BASE_FILE}")
            msg = "Base or swap file too young to remove" if rng.random() < 0.5 else "Removing base or swap file"
            world.emit(t + 0.003, "compute", "INFO", comp, ctx, f"{msg}: {_BASE_FILE}")

    def resource_audit(t: float) -> None:
        n_vms, mem, disk, vcpus = world.used_at(t)
        comp = "nova.compute.resource_tracker"
        world.emit(t, "compute", "INFO", comp, ctx, f"Auditing locally available compute resources for node {_HOST}")
        world.emit(
            t + 0.6, "compute", "INFO", comp, ctx, f"Total usable vcpus: {_TOTAL_VCPUS}, total allocated vcpus: {vcpus}"
        )
        world.emit(
            t + 0.601,
            "compute",
            "INFO",
            comp,
            ctx,
            f"Final resource view: name={_HOST} phys_ram={_TOTAL_MEM_MB}MB used_ram={mem + _RESERVED_MEM_MB}MB "
            f"phys_disk={_TOTAL_DISK_GB}GB used_disk={disk}GB total_vcpus={_TOTAL_VCPUS} used_vcpus={vcpus} "
            "pci_stats=[]",
        )
        world.emit(t + 0.66, "compute", "INFO", comp, ctx, f"Compute_service record updated for {_HOST}:{_HOST}")
        if n_vms and rng.random() < 0.1:
            world.emit(
                t + 0.7,
                "compute",
                "WARNING",
                "nova.compute.manager",
                ctx,
                f"While synchronizing instance power states, found {n_vms} instances in the database and "
                f"{max(n_vms - 1, 0)} instances on the hypervisor.",
            )

    def scheduler_sync(t: float) -> None:
        ctx_s = world.sys_ctx(_uuid(rng))
        if rng.random() < 0.2:
            msg = f"The instance sync for host '{_HOST}' did not match. Re-created its InstanceList."
        else:
            msg = f"Successfully synced instances from host '{_HOST}'."
        world.emit(t, "scheduler", "INFO", "nova.scheduler.host_manager", ctx_s, msg)

    def usage_audit(t: float) -> None:
        now = world.start + timedelta(seconds=t)
        end = now.replace(minute=0, second=0, microsecond=0)
        begin = end - timedelta(hours=1)
        world.emit(
            t,
            "compute",
            "INFO",
            "nova.compute.manager",
            ctx,
            f"Running instance usage audit for host {_HOST} from {begin:%Y-%m-%d %H:%M:%S} to "
            f"{end:%Y-%m-%d %H:%M:%S}. {world.used_at(t)[0]} instances.",
        )

    tasks: tuple[tuple[float, Callable[[float], None]], ...] = (
        (_IMAGECACHE_PERIOD_S, imagecache),
        (_RESOURCE_AUDIT_PERIOD_S, resource_audit),
        (_SCHEDULER_SYNC_PERIOD_S, scheduler_sync),
        (_USAGE_AUDIT_PERIOD_S, usage_audit),
    )
    for period, task in tasks:
        t = rng.uniform(0.0, period)
        while t < end_s:
            events.append((t, task))
            t += period + rng.uniform(-0.5, 0.5)
    for t, task in events:
        task(t)


def _format(lines: list[_Line], start: datetime) -> list[str]:
    lines = sorted(lines, key=lambda line: (line.ms, line.seq))
    last = start + timedelta(milliseconds=lines[-1].ms) if lines else start
    # loghub names each line by its rotated file: "<service>.log.1.<rotation time>"
    records = {
        "compute": f"nova-compute.log.1.{last + timedelta(seconds=151):%Y-%m-%d_%H:%M:%S}",
        "api": f"nova-api.log.1.{last + timedelta(seconds=8):%Y-%m-%d_%H:%M:%S}",
        "scheduler": f"nova-scheduler.log.1.{last + timedelta(seconds=44):%Y-%m-%d_%H:%M:%S}",
    }
    out = []
    for line in lines:
        when = start + timedelta(milliseconds=line.ms)
        out.append(
            f"{records[line.source]} {when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d} {line.pid} "
            f"{line.level} {line.component} [{line.context}] {line.content}"
        )
    return out


def simulate_openstack(
    n_instances: int,
    anomaly_ratio: float,
    seed: int,
    start: datetime | None = None,
    *,
    time_value_faults: bool = False,
    category_faults: bool = False,
) -> SimulatedLog:
    """Simulate a nova log with ``n_instances`` VMs, ``round(n_instances * anomaly_ratio)`` of them faulty.

    Args:
        n_instances: number of VMs (sessions), >= 1.
        anomaly_ratio: share of VMs with an injected fault, in [0, 1].
        seed: the same seed always gives the same lines, ids and labels.
        start: time of the first line (naive, local); default 2017-05-16 00:00:00.
        time_value_faults: also inject the faults of ``TIME_VALUE_FAULT_TYPES`` (normal key order,
            unusual times and values). Off: the same lines as before this option existed.
        category_faults: log each delete's power-state sync and inject the faults of
            ``CATEGORY_FAULT_TYPES`` (normal key order, a power state never seen in normal lifecycles)
            into ``round(n_instances * anomaly_ratio * CATEGORY_FAULT_SHARE)`` (at least 1) instances
            that would otherwise be normal, chosen by a stream of their own. Off: the same lines as before.

    Returns:
        :class:`SimulatedLog`: ``lines`` in loghub "openstack" format sorted by time; ``labels`` and
        ``fault_types`` for every instance (``"none"`` = normal).

    Raises:
        ValueError: ``n_instances < 1`` or ``anomaly_ratio`` outside [0, 1].
    """
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1, got {n_instances}")
    if not 0.0 <= anomaly_ratio <= 1.0:
        raise ValueError(f"anomaly_ratio must be in [0, 1], got {anomaly_ratio}")
    start = DEFAULT_START if start is None else start
    rng = random.Random(seed)
    world = _World(
        rng=random.Random(rng.getrandbits(64)),
        start=start,
        user=_hex32(rng),
        tenant=_hex32(rng),
        neutron_user=_hex32(rng),
        service_tenant=_hex32(rng),
        lifecycle_req=_uuid(rng),
        periodic_req=_uuid(rng),
        category_faults=category_faults,
    )
    plan: list[FaultType | TimeValueFaultType | CategoryFaultType] = list(
        _fault_plan(n_instances, anomaly_ratio, rng, time_value_faults)
    )
    power_states: dict[int, int] = {}
    if category_faults:  # its own stream: the plan above and every rng draw below stay those of the seed
        own = random.Random(f"category-faults-{seed}")
        normal = [i for i, f in enumerate(plan) if f == "none"]
        n_category = min(len(normal), max(1, round(n_instances * anomaly_ratio * CATEGORY_FAULT_SHARE)))
        for i in sorted(own.sample(normal, n_category)):
            plan[i] = "unusual_power_state"
            power_states[i] = own.choice(_UNUSUAL_POWER_STATES)
    labels: dict[str, int] = {}
    fault_types: dict[str, str] = {}
    t = rng.uniform(1.0, 5.0)
    end = t
    for i, fault in enumerate(plan):
        vm = _Vm(world, random.Random(rng.getrandbits(64)), t, fault, power_states.get(i, _STOPPED_POWER_STATE))
        released = vm.run()
        held = vm.flavor if fault != "oversized_disk" else (vm.flavor[0], 0, vm.flavor[2])  # thin-provisioned
        world.occupancy.append((vm.t_claimed, released, *held) if fault != "no_valid_host" else (0, 0, 0, 0, 0))
        labels[vm.iid] = int(fault != "none")
        fault_types[vm.iid] = fault
        end = max(end, vm.t)
        t += rng.expovariate(1.0 / _MEAN_ARRIVAL_S)
    _periodic(world, end + 30.0)
    return SimulatedLog(_format(world.out, start), labels, fault_types, start)


def save_simulated(sim: SimulatedLog, out_dir: str | Path) -> SimulatedFiles:
    """Write ``nova.log``, ``instance_labels.csv`` (kalaki format) and ``fault_types.csv`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = SimulatedFiles(out / "nova.log", out / "instance_labels.csv", out / "fault_types.csv")
    files.log.write_text("\n".join(sim.lines) + "\n", encoding="utf-8")
    n_lines = dict.fromkeys(sim.labels, 0)
    for line in sim.lines:
        marker = line.find("[instance: ")
        if marker >= 0:
            iid = line[marker + 11 : marker + 47]
            if iid in n_lines:
                n_lines[iid] += 1
    with files.labels.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["instance_id", "Label", "lines_with_instance_id"])
        for iid, label in sim.labels.items():
            writer.writerow([iid, "Anomaly" if label else "normal", n_lines[iid]])
    with files.fault_types.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["instance_id", "fault_type"])
        writer.writerows(sim.fault_types.items())
    return files


def write_simulated(
    out_dir: str | Path,
    n_instances: int = 200,
    anomaly_ratio: float = 0.1,
    seed: int = 0,
    start: datetime | None = None,
    *,
    time_value_faults: bool = False,
    category_faults: bool = False,
) -> SimulatedFiles:
    """:func:`simulate_openstack` then :func:`save_simulated` into ``out_dir``."""
    sim = simulate_openstack(
        n_instances, anomaly_ratio, seed, start, time_value_faults=time_value_faults, category_faults=category_faults
    )
    return save_simulated(sim, out_dir)
