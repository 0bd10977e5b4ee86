from django.urls import path

from . import views

urlpatterns = [
    path("service-info", views.service_info, name="service-info"),
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
]
